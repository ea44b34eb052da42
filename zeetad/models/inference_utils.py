"""Test-time helpers of :class:`~zeetad.models.zeetad.ZEETAD`: class probabilities, the autocast dtype and the
shuffled-names control."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

__all__ = ['AUTOCAST_DTYPES', 'CLIP_LOGIT_SCALE', 'class_probabilities', 'native_bf16', 'resolve_autocast',
           'cyclic_permutation']

AUTOCAST_DTYPES = (None, 'bfloat16', 'float16', 'auto')
CLIP_LOGIT_SCALE = 100.0  # CLIP's own (maximum) logit scale, for the untrained CLIP prior


def class_probabilities(model, out: dict, text_names: Sequence[str]) -> torch.Tensor:
    """The score of every (query, typed name) pair of ``model``'s last decoder layer: ``(B, Q, K)``.

    ``test_cfg.class_score`` picks the rule (docs/scoring.md); ``'calibrated'`` is the name scorer's per-name
    probability, actionness included (docs/naming.md), or the softmax while the scorer is not fitted.
    """
    cfg = model.test_cfg
    logits = out['logits'][-1].float()  # (B, Q, K)
    probs = model.name_scorer.score(model, out, model.classifier.text_embeddings(text_names).float()) \
        if cfg['class_score'] == 'calibrated' else None
    if probs is not None:
        return probs
    if cfg['class_score'] in ('softmax', 'calibrated'):
        probs = (logits / cfg['softmax_temperature']).softmax(-1)
    else:
        probs = logits.sigmoid()
    weight, clip_dim = cfg['clip_prior_weight'], model.localizer.clip_dim
    if weight > 0 and clip_dim:
        pooled = torch.nn.functional.normalize(out['semantics'][-1][..., -clip_dim:].float(), dim=-1)  # (B, Q, D)
        text = model.classifier.text_embeddings(text_names).to(pooled.dtype)  # (K, D)
        if text.shape[-1] != clip_dim:
            raise ValueError(f'model.test_cfg.clip_prior_weight needs CLIP frames of the text width: '
                             f'localizer.clip_dim {clip_dim} != text embeddings {text.shape[-1]}')
        prior = (CLIP_LOGIT_SCALE * pooled @ text.T).softmax(-1)
        probs = (1.0 - weight) * probs + weight * prior
    if cfg['score_fusion'] == 'mul' and out['actionness'] is not None:
        probs = probs * out['actionness'].float().sigmoid().unsqueeze(-1) ** cfg['actionness_power']
    return probs


def native_bf16(device_type: str = 'cpu') -> bool:
    """Whether this machine runs bf16 matrix products natively on ``device_type``: a CPU with AVX512-BF16 or
    AMX (elsewhere oneDNN emulates bf16, slower than float32). CUDA is not measured here: False."""
    if device_type != 'cpu':
        return False
    checks = (getattr(torch.cpu, '_is_avx512_bf16_supported', None), getattr(torch.cpu, '_is_amx_tile_supported', None))
    return any(check is not None and check() for check in checks)


def resolve_autocast(value: Optional[str], device_type: str = 'cpu') -> Optional[str]:
    """``test_cfg.autocast`` -> the dtype name inference runs under (None: float32); ``'auto'`` is
    ``'bfloat16'`` where :func:`native_bf16`, else None."""
    if value == 'auto':
        return 'bfloat16' if native_bf16(device_type) else None
    return value


def cyclic_permutation(k: int, seed: int) -> np.ndarray:
    """A random permutation of ``range(k)`` that is one ``k``-cycle (Sattolo's algorithm), so for ``k >= 2``
    no index maps to itself; deterministic per ``seed`` and always terminates (one pass)."""
    perm = np.arange(k)
    rng = np.random.default_rng(seed)
    for i in range(k - 1, 0, -1):
        j = int(rng.integers(i))  # j < i (not <= i): this is what makes a single cycle
        perm[i], perm[j] = perm[j], perm[i]
    return perm
