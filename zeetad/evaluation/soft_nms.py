"""Batched Soft-NMS for 1-D segments in plain torch (CPU or CUDA, no extension).

Classes (or any other groups) never interact, so all groups run their
sequential Soft-NMS in lock step on a padded ``(G, Nmax)`` score matrix: one
iteration keeps one segment per group, and the loop runs at most
``min(max_seg_num, Nmax)`` times instead of once per candidate pair.

Semantics (identical to :func:`zeetad.evaluation.reference.loop_soft_nms`):
candidates scoring below ``min_score`` are dropped; repeatedly the highest
remaining score is kept (lowest input index on ties) and the remaining ones of
its group are multiplied by ``exp(-iou**2 / sigma)`` (gaussian), ``1 - iou`` if
``iou > iou_threshold`` (linear) or 0 if ``iou > iou_threshold`` (hard), then
dropped if below ``min_score``. Kept scores never increase, so the global
"keep the best, stop at ``max_seg_num``" order equals the per-group results
merged by descending score (lowest index first on ties) and cut.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

_METHODS = ('gaussian', 'linear', 'hard')


def segment_iou_matrix(a: Tensor, b: Tensor) -> Tensor:
    """tIoU between two sets of segments.

    Args:
        a: ``(..., N, 2)``; b: ``(..., M, 2)`` (broadcastable batch dims).

    Returns:
        ``(..., N, M)``; lengths clamped at 0, zero union gives 0.
    """
    inter = torch.minimum(a[..., :, None, 1], b[..., None, :, 1]) - torch.maximum(a[..., :, None, 0],
                                                                                  b[..., None, :, 0])
    inter = inter.clamp(min=0)
    len_a = (a[..., 1] - a[..., 0]).clamp(min=0)
    len_b = (b[..., 1] - b[..., 0]).clamp(min=0)
    union = len_a[..., :, None] + len_b[..., None, :] - inter
    return torch.where(union > 0, inter / union.where(union > 0, torch.ones_like(union)), torch.zeros_like(union))


def _decay(iou: Tensor, method: str, sigma: float, iou_threshold: float) -> Tensor:
    if method == 'gaussian':
        return torch.exp(-(iou * iou) / sigma)
    if method == 'linear':
        return torch.where(iou > iou_threshold, 1.0 - iou, torch.ones_like(iou))
    return torch.where(iou > iou_threshold, torch.zeros_like(iou), torch.ones_like(iou))


def _pad_groups(groups: Tensor, *tensors: Tensor) -> tuple:
    """Scatter rows into ``(G, Nmax, ...)`` by group, keeping input order."""
    _, gid, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    order = torch.sort(gid, stable=True).indices
    starts = torch.cumsum(counts, 0) - counts
    gid_sorted = gid[order]
    pos = torch.arange(len(order), device=groups.device) - starts[gid_sorted]
    n_groups, n_max = len(counts), int(counts.max())
    valid = torch.zeros(n_groups, n_max, dtype=torch.bool, device=groups.device)
    valid[gid_sorted, pos] = True
    padded = []
    for t in tensors:
        out = torch.zeros((n_groups, n_max) + t.shape[1:], dtype=t.dtype, device=t.device)
        out[gid_sorted, pos] = t[order]
        padded.append(out)
    return valid, padded


def _score_voting(kept_seg: Tensor, kept_group: Tensor, segments: Tensor, scores: Tensor,
                  groups: Tensor, voting_thresh: float) -> Tensor:
    """Replace each kept segment by the ``score * iou``-weighted mean of the
    original candidates of its group overlapping it by ``>= voting_thresh``."""
    iou = segment_iou_matrix(kept_seg, segments)  # (K, N)
    w = torch.where((iou >= voting_thresh) & (kept_group[:, None] == groups[None, :]),
                    scores[None, :] * iou, torch.zeros_like(iou))
    den = w.sum(dim=1, keepdim=True)
    refined = (w @ segments) / den.where(den > 0, torch.ones_like(den))
    return torch.where(den > 0, refined, kept_seg)


def batched_soft_nms(
    segments: Tensor,
    scores: Tensor,
    labels: Tensor,
    *,
    method: str = 'gaussian',
    sigma: float = 0.5,
    iou_threshold: float = 0.1,
    min_score: float = 0.001,
    max_seg_num: int = 200,
    multiclass: bool = True,
    voting_thresh: float = 0.0,
    groups: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Soft-NMS of one video's candidates, all classes in parallel.

    Args:
        segments: ``(N, 2)`` float ``[start, end]``.
        scores: ``(N,)`` float, non-negative.
        labels: ``(N,)`` int class per candidate.
        method: ``'gaussian'``, ``'linear'`` or ``'hard'``.
        sigma: gaussian decay width.
        iou_threshold: overlap above which linear/hard decay applies.
        min_score: candidates whose (decayed) score falls below are dropped.
        max_seg_num: at most this many segments are kept in total.
        multiclass: decay only candidates of the kept one's class; otherwise
            class-agnostic.
        voting_thresh: if > 0, refine each kept segment by score voting over
            the original candidates (of its class when multiclass) whose tIoU
            with it is ``>= voting_thresh``; scores are unchanged.
        groups: optional ``(N,)`` int that further separates candidates (e.g.
            a video index) so several videos run in one call; ``max_seg_num``
            then still caps the total, not each group.

    Returns:
        ``(segments (K, 2), scores (K,), labels (K,))`` sorted by descending
        score, on the input device.
    """
    if method not in _METHODS:
        raise ValueError(f'method must be one of {_METHODS}, got {method!r}')
    device = segments.device
    segments = segments.reshape(-1, 2)
    if not segments.is_floating_point():
        segments = segments.double()
    scores = scores.reshape(-1).to(segments.dtype)
    labels = labels.reshape(-1)
    key = labels.long() if multiclass else torch.zeros_like(labels, dtype=torch.long)
    if groups is not None:
        key = groups.reshape(-1).long() * (int(key.max()) + 1 if len(key) else 1) + key
    cand = torch.nonzero(scores >= min_score).flatten()
    empty = (segments.new_zeros((0, 2)), scores.new_zeros((0,)), labels.new_zeros((0,)))
    if len(cand) == 0 or max_seg_num <= 0:
        return empty

    valid, (p_score, p_seg, p_idx) = _pad_groups(key[cand], scores[cand], segments[cand], cand)
    alive = valid.clone()
    n_groups, n_max = alive.shape
    rows = torch.arange(n_groups, device=device)
    neg_inf = torch.tensor(float('-inf'), dtype=p_score.dtype, device=device)
    kept_idx, kept_score, kept_ok = [], [], []
    for _ in range(min(max_seg_num, n_max)):
        masked = torch.where(alive, p_score, neg_inf)
        best = masked.argmax(dim=1)  # first maximum: lowest input index on ties
        ok = alive[rows, best]
        if not bool(ok.any()):
            break
        kept_idx.append(p_idx[rows, best])
        kept_score.append(p_score[rows, best])
        kept_ok.append(ok)
        alive[rows, best] = False
        iou = segment_iou_matrix(p_seg[rows, best][:, None, :], p_seg)[:, 0, :]  # (G, Nmax)
        p_score = p_score * _decay(iou, method, sigma, iou_threshold)
        alive &= p_score >= min_score

    ok = torch.stack(kept_ok, dim=1)
    idx = torch.stack(kept_idx, dim=1)[ok]
    score = torch.stack(kept_score, dim=1)[ok]
    # Descending score, lowest input index first among ties.
    by_idx = torch.argsort(idx)
    by_score = by_idx[torch.sort(-score[by_idx], stable=True).indices]
    top = by_score[:max_seg_num]
    idx, score = idx[top], score[top]
    seg = segments[idx]
    if voting_thresh > 0:
        seg = _score_voting(seg, key[idx], segments, scores, key, voting_thresh)
    return seg, score, labels[idx]


def filter_segments(segments: Tensor, scores: Tensor, *, min_duration: float = 0.0,
                    topk: Optional[int] = None) -> Tensor:
    """Indices of candidates longer than ``min_duration``, best ``topk`` first.

    Args:
        segments: ``(N, 2)``; scores: ``(N,)``.

    Returns:
        ``(K,)`` long indices, by descending score (lowest index on ties).
    """
    keep = torch.nonzero((segments[:, 1] - segments[:, 0]) > min_duration).flatten()
    keep = keep[torch.sort(-scores[keep], stable=True).indices]
    return keep if topk is None else keep[:topk]
