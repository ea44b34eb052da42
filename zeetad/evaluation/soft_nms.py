"""Batched Soft-NMS for 1-D segments in plain torch (CPU or CUDA, no extension).

Classes (or any other groups) never interact, so all groups run their
sequential Soft-NMS in lock step: one iteration keeps one segment per group,
and the loop runs at most ``min(max_seg_num, largest group)`` times (usually
far fewer, see :func:`_done`) instead of once per candidate pair. Groups of
similar size are laid out as a padded ``(G, Nmax)`` matrix; skewed ones (one
class holding most candidates, the usual case) stay flat with per-group
reductions, so no time goes to padding.

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
    inter.clamp_(min=0)
    len_a = (a[..., 1] - a[..., 0]).clamp(min=0)
    len_b = (b[..., 1] - b[..., 0]).clamp(min=0)
    union = len_a[..., :, None] + len_b[..., None, :] - inter
    return inter.div_(union).nan_to_num_(0.0)  # 0/0 (two zero-length segments) -> 0


def _decay(start: Tensor, end: Tensor, length: Tensor, b_start: Tensor, b_end: Tensor, b_len: Tensor,
           method: str, sigma: float, iou_threshold: float) -> Tensor:
    """Soft-NMS weights of candidates against the kept segment ``b`` (broadcast)."""
    inter = torch.minimum(end, b_end) - torch.maximum(start, b_start)
    inter.clamp_(min=0)
    union = b_len + length - inter
    iou = inter.div_(union).nan_to_num_(0.0)  # 0/0 (two zero-length segments) -> 0
    if method == 'gaussian':
        # x / -sigma == -(x) / sigma exactly, so this matches the reference.
        return iou.mul_(iou).div_(-sigma).exp_()
    if method == 'linear':
        return torch.where(iou > iou_threshold, 1.0 - iou, torch.ones_like(iou))
    return (iou <= iou_threshold).to(iou.dtype)


def _kernel_padded(score: Tensor, seg: Tensor, grp: Tensor, n_steps: int, cfg: dict) -> tuple[Tensor, Tensor]:
    """Lock-step Soft-NMS on a padded ``(G, Nmax)`` layout.

    Args:
        score: ``(N,)``; seg: ``(N, 2)``; grp: ``(N,)`` dense group ids.

    Returns:
        ``(pos (G, S), score (G, S))``: per group and step, the kept
        candidate's position in the inputs and its score (-inf when none).
    """
    _, counts = torch.unique(grp, return_counts=True)
    order = torch.sort(grp, stable=True).indices  # input order inside a group: ties go to the lower index
    g_sorted = grp[order]
    col = torch.arange(len(grp), device=grp.device) - (torch.cumsum(counts, 0) - counts)[g_sorted]
    shape = (len(counts), int(counts.max()))
    ninf = torch.full((), float('-inf'), dtype=score.dtype, device=score.device)
    live = torch.full(shape, float('-inf'), dtype=score.dtype, device=score.device)
    live[g_sorted, col] = score[order]
    pos = torch.zeros(shape, dtype=torch.long, device=grp.device)
    pos[g_sorted, col] = order
    ends = torch.zeros((shape[0], 3, shape[1]), dtype=score.dtype, device=score.device)
    s_seg = seg[order]
    ends[g_sorted, :, col] = torch.stack([s_seg[:, 0], s_seg[:, 1], (s_seg[:, 1] - s_seg[:, 0]).clamp(min=0)], 1)
    start, end, length = ends.unbind(1)
    kept_col = torch.zeros(shape[0], n_steps, dtype=torch.long, device=grp.device)
    kept_score = torch.full((shape[0], n_steps), float('-inf'), dtype=score.dtype, device=score.device)
    for step in range(n_steps):
        best = live.argmax(dim=1, keepdim=True)  # first maximum: lowest input index on ties
        best_score = live.gather(1, best)
        kept_col[:, step:step + 1] = best
        kept_score[:, step:step + 1] = best_score
        if step % 4 == 3 and bool(_done(live, kept_score[:, :step + 1], cfg['max_seg_num'])):
            break  # checked every few steps: a sync per step costs more than idle steps
        live.scatter_(1, best, float('-inf'))
        b = ends.gather(2, best[:, None, :].expand(-1, 3, 1))  # (G, 3, 1)
        live.mul_(_decay(start, end, length, b[:, 0], b[:, 1], b[:, 2], cfg['method'], cfg['sigma'],
                         cfg['iou_threshold']))
        live = torch.where(live >= cfg['min_score'], live, ninf)
    return pos.gather(1, kept_col), kept_score


def _kernel_flat(score: Tensor, seg: Tensor, grp: Tensor, n_steps: int, cfg: dict) -> tuple[Tensor, Tensor]:
    """Lock-step Soft-NMS on the flat ``(N,)`` layout with per-group
    ``scatter_reduce``; same contract as :func:`_kernel_padded`."""
    n, n_groups = len(score), int(grp.max()) + 1
    device = score.device
    ninf = torch.full((), float('-inf'), dtype=score.dtype, device=device)
    live = score.clone()
    start, end = seg[:, 0].contiguous(), seg[:, 1].contiguous()
    ends = torch.stack([start, end, (end - start).clamp(min=0)])  # (3, N)
    length = ends[2]
    index = torch.arange(n, device=device)
    no_max = torch.full((n_groups,), float('-inf'), dtype=score.dtype, device=device)
    no_pos = torch.full((n_groups,), n, dtype=torch.long, device=device)
    kept_pos = torch.zeros(n_groups, n_steps, dtype=torch.long, device=device)
    kept_score = torch.full((n_groups, n_steps), float('-inf'), dtype=score.dtype, device=device)
    for step in range(n_steps):
        group_max = no_max.scatter_reduce(0, grp, live, 'amax')
        # First maximum of each group: lowest input index on ties.
        best = no_pos.scatter_reduce(0, grp, torch.where(live == group_max[grp], index, n), 'amin')
        kept_pos[:, step] = best
        kept_score[:, step] = group_max
        if step % 4 == 3 and bool(_done(live, kept_score[:, :step + 1], cfg['max_seg_num'])):
            break
        live.index_fill_(0, best, float('-inf'))
        b = ends[:, best[grp]]  # (3, N): each candidate's group's kept segment
        live.mul_(_decay(start, end, length, b[0], b[1], b[2], cfg['method'], cfg['sigma'], cfg['iou_threshold']))
        live = torch.where(live >= cfg['min_score'], live, ninf)
    return kept_pos, kept_score


def _done(live: Tensor, kept_score: Tensor, max_seg_num: int) -> Tensor:
    """True once nothing kept later can enter the final top ``max_seg_num``.

    Later picks score at most the current best live score (decay never
    raises a score), so ``max_seg_num`` picks strictly above it are final.
    Also true when every group is exhausted.
    """
    bound = live.max()
    return (bound == float('-inf')) | ((kept_score > bound).sum() >= max_seg_num)


def _score_voting(kept: Tensor, kept_group: Tensor, cand_seg: Tensor, cand_score: Tensor, cand_group: Tensor,
                  voting_thresh: float) -> Tensor:
    """Score voting: each kept segment ``(K, 2)`` becomes the ``score * iou``
    weighted mean of the candidates ``(N, 2)`` of its group overlapping it by
    ``>= voting_thresh``."""
    iou = segment_iou_matrix(kept, cand_seg)  # (K, N)
    use = (kept_group[:, None] == cand_group[None, :]) & (iou >= voting_thresh)
    w = iou.mul_(cand_score).mul_(use)
    den = w.sum(dim=1, keepdim=True)
    refined = (w @ cand_seg) / den.where(den > 0, torch.ones_like(den))
    return torch.where(den > 0, refined, kept)


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

    c_seg, c_score = segments[cand], scores[cand]
    _, grp, counts = torch.unique(key[cand], return_inverse=True, return_counts=True)
    n_steps = min(max_seg_num, int(counts.max()))
    cfg = dict(method=method, sigma=sigma, iou_threshold=iou_threshold, min_score=min_score, max_seg_num=max_seg_num)
    padded = len(counts) * int(counts.max()) <= 2 * len(cand)  # little padding waste
    kernel = _kernel_padded if padded else _kernel_flat
    pos, score = kernel(c_score, c_seg, grp, n_steps, cfg)
    ok = torch.isfinite(score)
    pos, score = pos[ok], score[ok]
    # Descending score, lowest input index first among ties.
    by_pos = torch.argsort(pos)
    top = by_pos[torch.sort(-score[by_pos], stable=True).indices][:max_seg_num]
    pos, score = pos[top], score[top]
    seg = c_seg[pos]
    if voting_thresh > 0:
        seg = _score_voting(seg, grp[pos], c_seg, c_score, grp, voting_thresh)
    return seg, score, labels[cand[pos]]
