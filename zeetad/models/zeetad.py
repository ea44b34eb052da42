"""ZEETAD: dual localization + zero-shot proposal classification, trained end to end."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseModel

from zeetad.registry import MODELS
from .losses.segment_ops import segment_t1t2_to_cw

DEFAULT_TEST_CFG = dict(topk=100, score_fusion='mul', actionness_power=1.0, class_names=None,
                        shuffle_class_names=False, shuffle_seed=0, class_score='sigmoid', softmax_temperature=1.0,
                        clip_prior_weight=0.0)
CLIP_LOGIT_SCALE = 100.0  # CLIP's own (maximum) logit scale, for the untrained CLIP prior
CLASS_SCORES = ('sigmoid', 'softmax')


@MODELS.register_module()
class ZEETAD(BaseModel):
    """Args:
        localizer: :class:`DualLocalizer` config.
        classifier: :class:`ZeroShotProposalClassifier` config (``in_dim`` filled in).
        criterion: :class:`SetCriterion` config.
        test_cfg: ``topk`` detections per window; ``score_fusion`` ``'mul'`` (class prob x actionness^p) or
            ``'cls'``; ``class_names`` to score instead of the dataset's (open vocabulary);
            ``shuffle_class_names`` permutes the name -> text mapping (a control); ``class_score``
            ``'sigmoid'`` (per class, as trained) or ``'softmax'`` over the K test-class texts of
            ``logits / softmax_temperature`` (CLIP's zero-shot rule: scores comparable across classes);
            ``clip_prior_weight`` w mixes the class probabilities with CLIP's own zero-shot rule on the
            frames pooled in each segment, ``(1 - w) p + w softmax(100 cos(pooled CLIP, text))`` (an output
            ensemble with the untrained matching, as WiSE-FT; the text is the classifier's, adapters included).
        init_clip_identity: start the classifier's projection as the identity on the pooled-CLIP part of the
            semantic embedding (and zero on the decoder part), so training starts from CLIP's own matching.
    """

    def __init__(self, localizer: dict, classifier: dict, criterion: dict, data_preprocessor: Optional[dict] = None,
                 test_cfg: Optional[dict] = None, init_clip_identity: bool = True, init_cfg=None):
        # Built here through zeetad's registry: mmengine's BaseModel would look in its own root registry only.
        preprocessor = MODELS.build(data_preprocessor or dict(type='TADDataPreprocessor'))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.localizer = MODELS.build(localizer)
        self.classifier = MODELS.build(dict(classifier, in_dim=self.localizer.semantic_dim))
        self.criterion = MODELS.build(criterion)
        unknown = set(test_cfg or {}) - set(DEFAULT_TEST_CFG)
        if unknown:
            raise KeyError(f'model.test_cfg: unknown keys {sorted(unknown)}; expected {sorted(DEFAULT_TEST_CFG)}')
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}
        if self.test_cfg['class_score'] not in CLASS_SCORES:
            raise ValueError(f"model.test_cfg.class_score must be one of {CLASS_SCORES}, got "
                             f"{self.test_cfg['class_score']!r}")
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

    # ------------------------------------------------------------------ shared forward
    def _run(self, inputs: dict, class_names: Sequence[str]) -> dict:
        loc_out = self.localizer(inputs['loc'], inputs.get('clip'), inputs['mask'])
        text = self.classifier.text_embeddings(class_names)
        logits = torch.stack([self.classifier(sem, text_embeds=text) for sem in loc_out['semantics']])
        return dict(loc_out, logits=logits)

    def forward(self, inputs: dict, data_samples: Optional[list] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._run(inputs, self._class_names(data_samples, training=False))
        raise ValueError(f'unknown mode {mode!r}')

    def _class_names(self, data_samples, training: bool) -> list:
        if not training and self.test_cfg['class_names']:
            names = list(self.test_cfg['class_names'])
        else:
            names = list(data_samples[0]['classes'])
        if not training and self.test_cfg['shuffle_class_names']:
            perm = np.random.default_rng(self.test_cfg['shuffle_seed']).permutation(len(names))
            if len(names) > 1:  # a derangement, so no class keeps its own text
                while (perm == np.arange(len(names))).any():
                    perm = np.roll(perm, 1)
            names = [names[i] for i in perm]
        return names

    # ------------------------------------------------------------------ training
    def loss(self, inputs: dict, data_samples: list) -> dict:
        out = self._run(inputs, self._class_names(data_samples, training=True))
        targets = [dict(labels=s['gt_labels'], segments=segment_t1t2_to_cw(s['gt_segments'])) for s in data_samples]

        def layer(i: int, with_actionness: bool) -> dict:
            d = dict(pred_logits=out['logits'][i], pred_segments=out['segments_cw'][i])
            if with_actionness and out['actionness'] is not None:
                d['pred_actionness'] = out['actionness']
            return d

        outputs = layer(-1, True)
        outputs['aux_outputs'] = [layer(i, False) for i in range(out['logits'].shape[0] - 1)]
        return self.criterion(outputs, targets)

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: dict, data_samples: list) -> list:
        """-> one dict per window: ``video_id``, ``segments (K, 2)`` seconds, ``scores (K,)``, ``labels (K,)``."""
        names = self._class_names(data_samples, training=False)
        out = self._run(inputs, names)
        logits = out['logits'][-1]  # (B, Q, K)
        if self.test_cfg['class_score'] == 'softmax':
            probs = (logits / self.test_cfg['softmax_temperature']).softmax(-1)
        else:
            probs = logits.sigmoid()
        weight, clip_dim = self.test_cfg['clip_prior_weight'], self.localizer.clip_dim
        if weight > 0 and clip_dim:
            pooled = torch.nn.functional.normalize(out['semantics'][-1][..., -clip_dim:], dim=-1)  # (B, Q, D)
            text = self.classifier.text_embeddings(names).to(pooled.dtype)  # (K, D)
            if text.shape[-1] != clip_dim:
                raise ValueError(f'model.test_cfg.clip_prior_weight needs CLIP frames of the text width: '
                                 f'localizer.clip_dim {clip_dim} != text embeddings {text.shape[-1]}')
            prior = (CLIP_LOGIT_SCALE * pooled @ text.T).softmax(-1)
            probs = (1.0 - weight) * probs + weight * prior
        if self.test_cfg['score_fusion'] == 'mul' and out['actionness'] is not None:
            probs = probs * out['actionness'].sigmoid().unsqueeze(-1) ** self.test_cfg['actionness_power']
        b, q, k = probs.shape
        topk = min(self.test_cfg['topk'], q * k)
        scores, flat = probs.reshape(b, -1).topk(topk, dim=1)
        query, labels = flat // k, flat % k
        segments = torch.gather(out['segments'][-1], 1, query[..., None].expand(-1, -1, 2))
        results = []
        for i, sample in enumerate(data_samples):
            seconds = segments[i].double() * sample['span_s'] + sample['begin_s']
            seconds = seconds.clamp(0.0, float(sample['duration']))
            results.append(dict(video_id=sample['video_id'], segments=seconds.cpu().numpy(),
                                scores=scores[i].detach().float().cpu().numpy(),
                                labels=labels[i].cpu().numpy()))
        return results
