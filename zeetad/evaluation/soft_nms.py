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
    """Soft-NMS weights; may overwrite ``iou``."""
    if method == 'gaussian':
        # x / -sigma == -(x) / sigma exactly, so this matches the reference.
        return iou.mul_(iou).div_(-sigma).exp_()
    if method == 'linear':
        return torch.where(iou > iou_threshold, 1.0 - iou, torch.ones_like(iou))
    return (iou <= iou_threshold).to(iou.dtype)


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


def _score_voting(kept: Tensor, cand_seg: Tensor, cand_score: Tensor, cand_valid: Tensor,
                  voting_thresh: float) -> Tensor:
    """Score voting: each kept segment becomes the ``score * iou``-weighted
    mean of the candidates of its group overlapping it by ``>= voting_thresh``.

    Args:
        kept: ``(K, 2)``; cand_seg: ``(K, Nmax, 2)``, cand_score and
            cand_valid: ``(K, Nmax)`` -- each kept segment's own group.
    """
    iou = segment_iou_matrix(kept[:, None, :], cand_seg)[:, 0, :]  # (K, Nmax)
    w = torch.where(cand_valid & (iou >= voting_thresh), cand_score * iou, torch.zeros_like(iou))
    den = w.sum(dim=1, keepdim=True)
    refined = (w[..., None] * cand_seg).sum(dim=1) / den.where(den > 0, torch.ones_like(den))
    return torch.where(den > 0, refined, kept)


def _done(live: Tensor, best_score: Tensor, kept_score: Tensor, max_seg_num: int) -> Tensor:
    """True once nothing kept later can enter the final top ``max_seg_num``.

    Later picks score at most the current best live score (decay never
    raises a score), so ``max_seg_num`` picks strictly above it are final.
    Also true when every group is exhausted.
    """
    bound = live.max()
    return (bound == float('-inf')) | ((kept_score > bound).sum() >= max_seg_num)


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
        voting_thresh: if > 0, refine each kept segment by score voting: the
            mean of the candidates (original scores ``>= min_score``, of its
            class when multiclass) whose tIoU with it is ``>= voting_thresh``,
            weighted by ``score * tIoU``; scores are unchanged.
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
    n_groups, n_max = valid.shape
    ninf = torch.full((), float('-inf'), dtype=p_score.dtype, device=device)
    # Dead entries hold -inf; a decay weight of 0 turns them into NaN, which
    # the ">= min_score" test sends back to -inf.
    live = torch.where(valid, p_score, ninf)
    start, end = p_seg[..., 0], p_seg[..., 1]
    length = (end - start).clamp(min=0)
    ends = torch.stack([start, end, length], dim=1)  # (G, 3, Nmax): one gather per step
    # Clamping the union at the smallest subnormal turns 0/0 into 0 and leaves
    # every positive union unchanged.
    tiny = torch.nextafter(torch.zeros((), dtype=p_score.dtype), torch.ones((), dtype=p_score.dtype)).item()
    n_steps = min(max_seg_num, n_max)
    kept_pos = torch.zeros(n_groups, n_steps, dtype=torch.long, device=device)
    kept_score = torch.full((n_groups, n_steps), float('-inf'), dtype=p_score.dtype, device=device)
    for step in range(n_steps):
        best = live.argmax(dim=1, keepdim=True)  # first maximum: lowest input index on ties
        best_score = live.gather(1, best)
        kept_pos[:, step:step + 1] = best
        kept_score[:, step:step + 1] = best_score
        if step % 4 == 3 and bool(_done(live, best_score, kept_score[:, :step + 1], max_seg_num)):
            break  # checked every few steps: a sync per step costs more than idle steps
        live.scatter_(1, best, float('-inf'))
        b_start, b_end, b_len = ends.gather(2, best[:, None, :].expand(-1, 3, 1)).unbind(1)  # (G, 1) each
        inter = torch.minimum(end, b_end) - torch.maximum(start, b_start)
        inter.clamp_(min=0)
        union = b_len + length - inter
        iou = inter.div_(union.clamp_(min=tiny))
        live.mul_(_decay(iou, method, sigma, iou_threshold))
        live = torch.where(live >= min_score, live, ninf)

    ok = torch.isfinite(kept_score)
    row = torch.arange(n_groups, device=device)[:, None].expand_as(kept_score)[ok]
    idx = p_idx.gather(1, kept_pos)[ok]
    score = kept_score[ok]
    # Descending score, lowest input index first among ties.
    by_idx = torch.argsort(idx)
    top = by_idx[torch.sort(-score[by_idx], stable=True).indices][:max_seg_num]
    idx, score, row = idx[top], score[top], row[top]
    seg = segments[idx]
    if voting_thresh > 0:
        seg = _score_voting(seg, p_seg[row], p_score[row], valid[row], voting_thresh)
    return seg, score, labels[idx]
