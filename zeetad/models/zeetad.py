"""ZEETAD (Phan et al., WACV 2024): dual localization + zero-shot proposal classification, trained end to end.

A window of snippet features goes through a Deformable-DETR encoder-decoder (the *dual localizer*): ``Q``
learned queries each propose a segment and an actionness score, and gather a *semantic embedding* (decoder
state + CLIP frames pooled inside the segment). The *zero-shot classifier* compares that embedding with CLIP
text embeddings of the class names, so any class list can be scored at test time. Training matches queries to
the ground truth (Hungarian) and adds DN-DETR denoising queries when configured; inference scores each query
as class probability x actionness and keeps the top ``topk`` (segment, class) pairs per window.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel

from zeetad.registry import MODELS
from zeetad.structures.segments import segment_t1t2_to_cw
from zeetad.text.unrelated_names import UNRELATED_ACTION_NAMES
from .denoising import DenoisingQueries
from .inference_utils import AUTOCAST_DTYPES, class_probabilities, cyclic_permutation, resolve_autocast

DEFAULT_TEST_CFG = dict(topk=100, score_fusion='mul', actionness_power=1.0, class_names=None,
                        shuffle_class_names=False, shuffle_seed=0, autocast='auto', class_score='softmax',
                        softmax_temperature=1.0, clip_prior_weight=0.0)
CLASS_SCORES = ('sigmoid', 'softmax', 'calibrated')


@MODELS.register_module()
class ZEETAD(BaseModel):
    """The ZEETAD detector; ``forward`` modes ``loss`` (training), ``predict`` (test) and ``tensor``.

    Args:
        localizer: :class:`DualLocalizer` config.
        classifier: :class:`ZeroShotProposalClassifier` config (``in_dim`` filled in).
        criterion: :class:`SetCriterion` config.
        data_preprocessor: :class:`TADDataPreprocessor` config (pads windows, builds masks).
        test_cfg: ``topk`` detections per window; ``score_fusion`` ``'mul'`` (class prob x actionness^p) or
            ``'cls'``; ``class_names`` to score instead of the dataset's (open vocabulary);
            ``shuffle_class_names`` scores class ``k`` with the text of another class (a control: a random
            single cycle over the names, seeded by ``shuffle_seed``, logged once); ``autocast`` ``'bfloat16'``
            (or ``'float16'``) runs the localizer and classifier head under ``torch.autocast`` at inference
            (the class text embeddings stay float32): about 2x faster on CPUs with native bf16, see
            docs/benchmarks.md for its effect on mAP; ``'auto'``: bf16 on a CPU with native bf16
            (:func:`native_bf16`, the default), float32 elsewhere; None: float32. ``class_score``
            ``'sigmoid'`` (per class, as trained) or ``'softmax'`` (the default) over the K test-class texts of
            ``logits / softmax_temperature`` (CLIP's zero-shot rule: scores comparable across classes);
            ``clip_prior_weight`` w mixes the class probabilities with CLIP's own zero-shot rule on the
            frames pooled in each segment, ``(1 - w) p + w softmax(100 cos(pooled CLIP, text))`` (an output
            ensemble with the untrained matching, as WiSE-FT; the text is the classifier's, adapters included).
            ``'calibrated'``: ``name_scorer``'s per-name probability that the proposal is a correct detection of
            the name (actionness included; independent of the other typed names; docs/naming.md).
        name_scorer: :class:`CalibratedNameScorer` config (opt-in): holds some seen classes out of the class
            loss and fits the calibrated score on them at the end of training (``NameCalibrationHook``).
        denoising: DN-DETR denoising queries in training (:mod:`zeetad.models.denoising`):
            ``dict(num_groups=G, box_noise=0.4, weight=1.0)`` adds ``G`` noised copies of every ground-truth
            segment as extra decoder queries, trained to reconstruct it (losses ``dn.*``). None (default): off.
        init_clip_identity: start the classifier's projection as the identity on the pooled-CLIP part of the
            semantic embedding (and zero on the decoder part), so training starts from CLIP's own matching.
    """

    def __init__(self, localizer: dict, classifier: dict, criterion: dict, data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_clip_identity: bool = True, denoising: Optional[dict] = None,
                 name_scorer: Optional[dict] = None, init_cfg=None):
        # Built here through zeetad's registry: mmengine's BaseModel would look in its own root registry only.
        preprocessor = MODELS.build(data_preprocessor or dict(type='TADDataPreprocessor'))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.localizer = MODELS.build(localizer)
        self.denoising = DenoisingQueries.from_cfg(self.localizer.transformer.d_model, denoising) if denoising \
            else None
        self.classifier = MODELS.build(dict(classifier, in_dim=self.localizer.semantic_dim))
        self.criterion = MODELS.build(criterion)
        self.name_scorer = MODELS.build(dict(name_scorer, embed_dim=self.classifier.embed_dim)) if name_scorer \
            else None
        unknown = set(test_cfg or {}) - set(DEFAULT_TEST_CFG)
        if unknown:
            raise KeyError(f'model.test_cfg: unknown keys {sorted(unknown)}; expected {sorted(DEFAULT_TEST_CFG)}')
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}
        if self.test_cfg['autocast'] not in AUTOCAST_DTYPES:
            raise ValueError(f'model.test_cfg.autocast must be one of {AUTOCAST_DTYPES}, '
                             f'got {self.test_cfg["autocast"]!r}')
        if self.test_cfg['class_score'] not in CLASS_SCORES:
            raise ValueError(f"model.test_cfg.class_score must be one of {CLASS_SCORES}, got "
                             f"{self.test_cfg['class_score']!r}")
        if self.test_cfg['class_score'] == 'calibrated' and self.name_scorer is None:
            raise ValueError("model.test_cfg.class_score='calibrated' needs model.name_scorer "
                             "(e.g. dict(type='CalibratedNameScorer')); or set class_score='softmax'")
        if not 0.0 <= self.test_cfg['clip_prior_weight'] <= 1.0:
            raise ValueError(f"model.test_cfg.clip_prior_weight must be in [0, 1], got "
                             f"{self.test_cfg['clip_prior_weight']!r}")
        if not self.test_cfg['softmax_temperature'] > 0:
            raise ValueError(f"model.test_cfg.softmax_temperature must be > 0, got "
                             f"{self.test_cfg['softmax_temperature']!r}")
        if init_clip_identity:
            self._init_clip_identity()

    def _init_clip_identity(self) -> None:
        proj = self.classifier.proj
        clip_dim = self.localizer.clip_dim
        if not isinstance(proj, torch.nn.Linear) or not clip_dim or proj.out_features != clip_dim:
            return
        with torch.no_grad():
            proj.weight.zero_()
            proj.weight[:, -clip_dim:] = torch.eye(clip_dim)
            proj.bias.zero_()

    def _run(self, inputs: dict, class_names: Sequence[str], last_only: bool = False,
             extra_queries: Optional[dict] = None) -> dict:
        """Localizer + classifier; ``logits (M, B, Q, K)``, or ``(1, B, Q, K)`` of the last decoder layer only
        with ``last_only`` (inference, where the other layers' classes are never read)."""
        loc_out = self.localizer(inputs['loc'], inputs.get('clip'), inputs['mask'], last_only=last_only,
                                 extra_queries=extra_queries)
        with torch.autocast(inputs['loc'].device.type, enabled=False):  # float32 and cached whatever the caller's
            text = self.classifier.text_embeddings(class_names)  # once per step, shared by every decoder layer
        logits = self.classifier(loc_out['semantics'], text_embeds=text)  # all layers in one call: (M, B, Q, K)
        return dict(loc_out, logits=logits)

    def forward(self, inputs: dict, data_samples: Optional[list] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._run(inputs, self._class_names(data_samples, training=False)[1])
        raise ValueError(f'unknown mode {mode!r}')

    def _class_names(self, data_samples, training: bool) -> tuple[list, list]:
        """-> ``(label_names, text_names)``: label ``k`` of a prediction means ``label_names[k]``; its score
        comes from the text of ``text_names[k]`` (the same list unless ``shuffle_class_names``)."""
        if not training and self.test_cfg['class_names']:
            names = list(self.test_cfg['class_names'])
        else:
            names = list(data_samples[0]['classes'])
        if training or not self.test_cfg['shuffle_class_names'] or not names:
            return names, names
        if len(names) == 1:  # no other typed name: the text of an unrelated action name, drawn by the seed
            others = [n for n in UNRELATED_ACTION_NAMES if n != names[0]]
            text_names = [others[int(self.test_cfg['shuffle_seed']) % len(others)]]
        else:
            text_names = [names[i] for i in cyclic_permutation(len(names), self.test_cfg['shuffle_seed'])]
        key = (tuple(names), int(self.test_cfg['shuffle_seed']))
        if getattr(self, '_logged_shuffle', None) != key:  # once per mapping, not once per batch
            self._logged_shuffle = key
            mapping = ', '.join(f'{a!r} -> text of {b!r}' for a, b in zip(names, text_names))
            print_log(f'shuffle_class_names=True (control, seed {key[1]}): scoring every class with another '
                      f"class's text: {mapping}", logger='current')
        return names, text_names

    # ------------------------------------------------------------------ training
    def loss(self, inputs: dict, data_samples: list) -> dict:
        """Set losses of the matched queries at every decoder layer, plus ``dn.*`` of the denoising queries."""
        targets = [dict(labels=s['gt_labels'], segments=segment_t1t2_to_cw(s['gt_segments'])) for s in data_samples]
        num_queries = self.localizer.transformer.num_queries  # matched; denoising queries (if any) come after
        dn = self.denoising.build(targets, num_queries, inputs['loc'].dtype, inputs['loc'].device) \
            if self.denoising is not None else None
        names = self._class_names(data_samples, training=True)[1]
        if self.name_scorer is not None:  # held-out seen classes: localised, never named (fit the score on them)
            names, targets = self.name_scorer.training_names(names, targets)
        out = self._run(inputs, names, extra_queries=dn)

        def layer(i: int, with_actionness: bool, queries: slice = slice(0, num_queries)) -> dict:
            d = dict(pred_logits=out['logits'][i][:, queries], pred_segments=out['segments_cw'][i][:, queries])
            if with_actionness and out['actionness'] is not None:
                d['pred_actionness'] = out['actionness'][:, queries]
            return d

        outputs = layer(-1, True)
        outputs['aux_outputs'] = [layer(i, False) for i in range(out['logits'].shape[0] - 1)]
        losses = self.criterion(outputs, targets)
        if dn is not None:
            rest = slice(num_queries, None)
            dn_outputs = dict(layer(-1, False, rest), aux_outputs=[layer(i, False, rest)
                                                                    for i in range(out['logits'].shape[0] - 1)])
            losses.update(self.denoising.losses(self.criterion, dn_outputs, targets, dn))
        return losses

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: dict, data_samples: list) -> list:
        """-> one dict per window: ``video_id``, ``segments (K, 2)`` seconds, ``scores (K,)``, ``labels (K,)``
        and ``label_names`` (label ``k`` means ``label_names[k]``: the metric and the APIs map through it)."""
        label_names, text_names = self._class_names(data_samples, training=False)
        dtype = resolve_autocast(self.test_cfg['autocast'], inputs['loc'].device.type)
        with torch.autocast(inputs['loc'].device.type, dtype=getattr(torch, dtype or 'bfloat16'),
                            enabled=dtype is not None):
            out = self._run(inputs, text_names, last_only=True)
        probs = class_probabilities(self, out, text_names)  # (B, Q, K)
        b, q, k = probs.shape
        topk = min(self.test_cfg['topk'], q * k)
        scores, flat = probs.reshape(b, -1).topk(topk, dim=1)
        query, labels = flat // k, flat % k
        segments = torch.gather(out['segments'][-1].float(), 1, query[..., None].expand(-1, -1, 2))
        results = []
        for i, sample in enumerate(data_samples):
            seconds = segments[i].double() * sample['span_s'] + sample['begin_s']
            seconds = seconds.clamp(0.0, float(sample['duration']))
            results.append(dict(video_id=sample['video_id'], segments=seconds.cpu().numpy(),
                                scores=scores[i].detach().float().cpu().numpy(),
                                labels=labels[i].cpu().numpy(), label_names=tuple(label_names)))
        return results
