"""A per-name detection score that means the same thing for any list of typed names.

``p(q, k) = sigmoid(w . f(q, k) + b)``: the probability that proposal ``q`` is a correct detection (tIoU >= 0.5)
of the name ``k``, whatever other names are typed alongside it. The features ``f(q, k)`` fuse the trained
classifier with CLIP's own zero-shot evidence (the CLIP frames pooled inside the proposal against the name's text),
each also taken relative to a fixed reference vocabulary (the names trained on) so that names whose texts sit close
to everything do not score high everywhere; the actionness logit is the last feature. ``w, b`` are fitted by
logistic regression on seen classes that were held out of the classification loss (:meth:`holdout_names`), so the
weight given to CLIP against the trained logits is fitted on names the classifier never learned, as unseen names
at test time are; unseen names never fit anything. Fitting: :class:`zeetad.engine.hooks.NameCalibrationHook`.
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

from zeetad.registry import MODELS
from ..inference_utils import CLIP_LOGIT_SCALE

FEATURES = ('logit', 'logit_vs_reference', 'clip', 'clip_vs_reference', 'actionness')


SCORE_MEANINGS = {
    'calibrated': 'the probability that the segment shows the named action, p(name | action) x actionness, '
                  'calibrated on seen classes held out of training: the same scale whatever names are typed '
                  '(docs/naming.md)',
    'softmax': "the name's share among the typed names (softmax) x actionness: it only ranks the typed names "
               'against each other (with one typed name it is the actionness alone)',
    'sigmoid': 'the per-name sigmoid of the trained logit x actionness (not calibrated)',
}


def score_meaning(class_score) -> str:
    """What a detection score means under ``model.test_cfg.class_score`` (printed by ``zeetad detect``)."""
    return SCORE_MEANINGS.get(class_score, '')


def relative(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``log softmax`` of each name against itself plus a fixed reference set: ``x (..., K)``, ``reference
    (..., R)`` -> ``(..., K)``; with ``R = 0`` it is 0."""
    return x - torch.logaddexp(x, torch.logsumexp(reference, -1, keepdim=True))


@MODELS.register_module()
class CalibratedNameScorer(nn.Module):
    """Args:
        holdout_classes: seen classes kept out of the classification loss (still localised) to fit on.
        holdout_seed: which ones (a seeded draw over the sorted seen names).
        l2: ridge penalty of the logistic fit (on standardised features).
        min_positives: fewer matched proposals than this on the held-out classes is an error at fitting time.
        mode: ``'joint'``: one logistic over every feature, actionness included, fitted on all proposals;
            ``'factorized'``: ``p(name | action) x sigmoid(actionness)``, the name part fitted on the proposals
            that match a held-out instance.
        unrelated_negatives: also fit on this many unrelated action names (``UNRELATED_ACTION_NAMES``, never
            present), as wrong names for every proposal: the score then also learns what a name absent from the
            video looks like.
        clip_fallback: keep CLIP's features alone when the fused fit names the held-out instances worse.
        holdout_loss: what the classification loss does with a held-out instance's query: ``'negative'`` (a
            negative for every trained name) or ``'ignore'`` (no class loss).
        embed_dim: text embedding width (filled in by ZEETAD).
        max_reference: room for the reference (trained) names' texts kept with the model.
    """

    def __init__(self, holdout_classes: int = 4, holdout_seed: int = 0, l2: float = 1e-2,
                 min_positives: int = 20, mode: str = 'joint', unrelated_negatives: int = 0,
                 holdout_loss: str = 'negative', clip_fallback: bool = True, embed_dim: int = 512,
                 max_reference: int = 256) -> None:
        super().__init__()
        if holdout_classes < 1:
            raise ValueError(f'model.name_scorer.holdout_classes must be >= 1, got {holdout_classes!r}')
        self.holdout_classes, self.holdout_seed = int(holdout_classes), int(holdout_seed)
        self.l2, self.min_positives = float(l2), int(min_positives)
        if mode not in ('joint', 'factorized'):
            raise ValueError(f"model.name_scorer.mode must be 'joint' or 'factorized', got {mode!r}")
        self.mode = mode
        self.unrelated_negatives = int(unrelated_negatives)
        if holdout_loss not in ('negative', 'ignore'):
            raise ValueError(f"model.name_scorer.holdout_loss must be 'negative' or 'ignore', got {holdout_loss!r}")
        self.holdout_loss = holdout_loss
        self.clip_fallback = bool(clip_fallback)
        self.register_buffer('weight', torch.zeros(len(FEATURES)))
        self.register_buffer('bias', torch.zeros(()))
        self.register_buffer('fitted', torch.zeros((), dtype=torch.bool))
        self.register_buffer('reference_bank', torch.zeros(max_reference, embed_dim))  # the trained names' texts
        self.register_buffer('num_reference', torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ training side
    def holdout_names(self, seen_names: Sequence[str]) -> list:
        """The held-out seen names (a deterministic draw by name). At most a third of the seen names are held out,
        so a small vocabulary keeps most of its names trained (logged); with fewer than 3 seen names none is, and
        the scorer stays unfitted (scores fall back to the softmax)."""
        names = sorted(set(seen_names))
        count = min(self.holdout_classes, len(names) // 3)
        if count < self.holdout_classes and getattr(self, '_logged_holdout', None) != len(names):
            self._logged_holdout = len(names)
            print_log(f'model.name_scorer.holdout_classes={self.holdout_classes}: the training split has '
                      f'{len(names)} seen classes, holding out {count}', logger='current', level=logging.WARNING)
        rng = np.random.default_rng(self.holdout_seed)
        return sorted(names[i] for i in rng.choice(len(names), count, replace=False))

    def training_names(self, names: Sequence[str], targets: list) -> tuple:
        """``names`` without the held-out ones, and ``targets`` relabelled: a held-out instance keeps its segment
        (localisation and actionness train on it) with label -1, "none of the trained names" (``holdout_loss
        'negative'``), or -2, no class loss at all (``'ignore'``: the classifier learns nothing about them, as
        about unseen classes)."""
        held = set(self.holdout_names(names))
        kept = [n for n in names if n not in held]
        unnamed = -1 if self.holdout_loss == 'negative' else -2
        remap = torch.tensor([kept.index(n) if n in kept else unnamed for n in names], dtype=torch.long)
        return kept, [dict(t, labels=remap.to(t['labels'].device)[t['labels'].long()]) for t in targets]

    # ------------------------------------------------------------------ features and scores
    def features(self, model, out: dict, text: torch.Tensor) -> torch.Tensor:
        """``(B, Q, K, F)`` features of the last decoder layer's proposals against ``text (K, D)``."""
        clip_dim = model.localizer.clip_dim
        if not clip_dim or text.shape[-1] != clip_dim:
            raise ValueError(f"model.test_cfg.class_score='calibrated' needs CLIP frames of the text width: "
                             f'localizer.clip_dim {clip_dim} != text embeddings {text.shape[-1]}')
        semantics = out['semantics'][-1].float()  # (B, Q, S)
        reference = self.reference_text.to(semantics)
        cls = model.classifier
        query = cls.project(semantics)  # (B, Q, D)
        pooled = F.normalize(semantics[..., -clip_dim:], dim=-1)

        def trained(t):
            logits = cls.logit_scale.float() * query @ t.float().T
            return logits + cls.logit_bias.float() if cls.logit_bias is not None else logits

        logit, ref_logit = trained(text), trained(reference)
        clip, ref_clip = CLIP_LOGIT_SCALE * pooled @ text.float().T, CLIP_LOGIT_SCALE * pooled @ reference.T
        act = out['actionness'].float() if out.get('actionness') is not None else semantics.new_zeros(pooled.shape[:2])
        feats = (logit, relative(logit, ref_logit), clip, relative(clip, ref_clip), act.unsqueeze(-1).expand_as(logit))
        return torch.stack(feats, -1)

    def score(self, model, out: dict, text: torch.Tensor) -> Optional[torch.Tensor]:
        """Calibrated per-name probabilities ``(B, Q, K)``; None while not fitted (validation during training,
        or a fit that found too few matches): the caller then scores with the softmax."""
        if not bool(self.fitted):
            if not getattr(self, '_warned', False):
                self._warned = True
                print_log("model.test_cfg.class_score='calibrated': model.name_scorer is not fitted (it is fitted "
                          "at the end of training by NameCalibrationHook); scoring with class_score='softmax' "
                          'meanwhile', logger='current', level=logging.WARNING)
            return None
        feats = self.features(model, out, text)
        prob = (feats @ self.weight.float() + self.bias.float()).sigmoid()
        return prob * feats[..., FEATURES.index('actionness')].sigmoid() if self.mode == 'factorized' else prob

    # ------------------------------------------------------------------ fitting
    def fit(self, feats: torch.Tensor, targets: torch.Tensor, reference_text: torch.Tensor) -> dict:
        """Logistic regression of ``targets (N, K)`` (1: the proposal is a tIoU >= 0.5 detection of name k) on
        ``feats (N, K, F)``; stores ``w, b`` and the reference texts. Falls back to CLIP's features alone when
        the fused fit names the matched proposals worse than CLIP's rule does. -> fit statistics."""
        matched = targets.bool().any(1)  # proposals that are a detection of one of the held-out names
        if self.mode == 'factorized':  # p(name | the proposal is an action), on the matched proposals only
            feats, targets, matched = feats[matched], targets[matched], matched[matched]
        x, y = feats.double().reshape(-1, feats.shape[-1]), targets.double().reshape(-1)
        npos = int(y.sum())
        if npos < self.min_positives:
            raise ValueError(f'model.name_scorer: {npos} matched proposals of the held-out classes, fewer than '
                             f'min_positives={self.min_positives}: hold out more classes or train longer')
        stats = dict(positives=npos, rows=int(y.numel()), names=int(targets.shape[1]))
        action = torch.tensor([f == 'actionness' for f in FEATURES]) & (self.mode == 'joint')
        fused = self._logistic(x, y, torch.tensor([not f.startswith('actionness') for f in FEATURES]) | action)
        prior = self._logistic(x, y, torch.tensor([f.startswith('clip') for f in FEATURES]) | action)
        share = {}
        for name, (w, b) in (('fused', fused), ('clip', prior)):
            s = feats.double() @ w + b  # (N, K)
            share[name] = float((targets[matched].gather(1, s[matched].argmax(1, keepdim=True)) > 0).double().mean())
        use_fused = share['fused'] >= share['clip'] or not self.clip_fallback
        w, b = fused if use_fused else prior
        stats.update(right_name_fused=share['fused'], right_name_clip=share['clip'], used='fused' if use_fused else 'clip')
        with torch.no_grad():
            self.weight.copy_(w.float())
            self.bias.fill_(float(b))
            self.reference_text = reference_text
            self.fitted.fill_(True)
        stats['weight'] = dict(zip(FEATURES, (round(float(v), 4) for v in w)))
        stats['bias'] = round(float(b), 4)
        return stats

    def _logistic(self, x: torch.Tensor, y: torch.Tensor, use: torch.Tensor) -> tuple:
        """Ridge logistic regression on standardised features ``x[:, use]``; -> ``(w (F,), b)`` in raw units."""
        mean, std = x.mean(0), x.std(0).clamp(min=1e-6)
        z = ((x - mean) / std)[:, use]
        w = torch.zeros(z.shape[1], dtype=x.dtype, requires_grad=True)
        b = torch.zeros((), dtype=x.dtype, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn='strong_wolfe')

        def closure():
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(z @ w + b, y) + self.l2 * w.pow(2).sum() / 2
            loss.backward()
            return loss

        opt.step(closure)
        raw = torch.zeros(x.shape[1], dtype=x.dtype)
        raw[use] = w.detach() / std[use]
        return raw, b.detach() - (raw * mean).sum()

    @property
    def reference_text(self) -> torch.Tensor:
        """``(R, D)`` L2-normalised texts of the names the classifier was trained on."""
        return self.reference_bank[:int(self.num_reference)]

    @reference_text.setter
    def reference_text(self, text: torch.Tensor) -> None:
        if text.shape[0] > self.reference_bank.shape[0] or text.shape[-1] != self.reference_bank.shape[1]:
            raise ValueError(f'model.name_scorer: {tuple(text.shape)} reference texts do not fit its bank '
                             f'{tuple(self.reference_bank.shape)}: raise max_reference')
        with torch.no_grad():
            self.reference_bank.zero_()
            self.reference_bank[:text.shape[0]] = text.detach().to(self.reference_bank)
            self.num_reference.fill_(text.shape[0])

    def extra_repr(self) -> str:
        return f'holdout_classes={self.holdout_classes}, fitted={bool(self.fitted)}'
