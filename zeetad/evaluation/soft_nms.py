"""Batched Soft-NMS for 1-D segments in plain torch and numpy (CPU or CUDA, no extension).

Classes (or any other groups) never interact, so all groups run their
sequential Soft-NMS in lock step (:mod:`.soft_nms_kernel`): one iteration
keeps one segment per group, and the loop runs at most ``min(max_seg_num,
largest group)`` times, usually far fewer (it stops once no later pick can
enter the top ``max_seg_num``). :func:`soft_nms_per_video` runs many videos in
the same loop, which amortises the per-step cost of the small tensor ops.
One video on CPU (``detect``, the evaluation of one video) runs the numpy loop
of one pick per step instead, whose steps cost about a quarter as much, unless
the lock-step loop needs ``_LOCKSTEP_STEP_COST`` times fewer steps.

Semantics (identical to :func:`zeetad.testing.reference.loop_soft_nms`):
candidates scoring below ``min_score`` are dropped; repeatedly the highest
remaining score is kept (lowest input index on ties) and the remaining ones of
its group are multiplied by ``exp(-iou**2 / sigma)`` (gaussian), ``1 - iou`` if
``iou > iou_threshold`` (linear) or 0 if ``iou > iou_threshold`` (hard), then
dropped if below ``min_score``. Kept scores never increase, so the global
"keep the best, stop at ``max_seg_num``" order equals the per-group results
merged by descending score (lowest index first on ties) and cut.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from .soft_nms_kernel import Caps, lockstep_soft_nms, sequential_soft_nms

_METHODS = ('gaussian', 'linear', 'hard')
# One video on CPU runs the numpy loop (one pick per step) unless the torch
# lock-step loop needs this many times fewer steps (many small groups, e.g.
# ZEAL's curves): a lock-step step costs about this many numpy steps (measured
# 2.6 on THUMOS14-like and 4.2 on ActivityNet-like candidates).
_LOCKSTEP_STEP_COST = 4


@contextmanager
def one_cpu_thread(device: torch.device):
    """Run torch single-threaded inside the block (CPU only). Soft-NMS ops touch
    a few thousand numbers each; with two OpenMP threads on a busy machine each
    op waits on a barrier (measured: merging the 212 THUMOS14 test videos
    1.56 s with 2 threads, 0.17 s with 1)."""
    previous = torch.get_num_threads()
    if device.type != 'cpu' or previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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


@dataclass(frozen=True)
class SoftNMSParams:
    """The options of both Soft-NMS entry points (``**params`` of :func:`batched_soft_nms` and
    :func:`soft_nms_per_video`; a metric's ``nms`` dict).

    Attributes:
        method: ``'gaussian'``, ``'linear'`` or ``'hard'``.
        sigma: gaussian decay width.
        iou_threshold: overlap above which linear/hard decay applies.
        min_score: candidates whose (decayed) score falls below are dropped.
        max_seg_num: at most this many segments are kept (per video).
        multiclass: decay only candidates of the kept one's class; otherwise
            class-agnostic.
        voting_thresh: if > 0, refine each kept segment by score voting: the
            mean of the candidates (original scores ``>= min_score``, of its
            class when multiclass) whose tIoU with it is ``>= voting_thresh``,
            weighted by ``score * tIoU``; scores are unchanged.
    """
    method: str = 'gaussian'
    sigma: float = 0.5
    iou_threshold: float = 0.1
    min_score: float = 0.001
    max_seg_num: int = 200
    multiclass: bool = True
    voting_thresh: float = 0.0

    def __post_init__(self):
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")


def batched_soft_nms(segments: Tensor, scores: Tensor, labels: Tensor, *, groups: Optional[Tensor] = None,
                     **params) -> tuple[Tensor, Tensor, Tensor]:
    """Soft-NMS of one video's candidates, all classes in parallel.

    Args:
        segments: ``(N, 2)`` float ``[start, end]``.
        scores: ``(N,)`` float, non-negative.
        labels: ``(N,)`` int class per candidate.
        groups: optional ``(N,)`` int that further separates candidates (e.g.
            a curve index) so that they never interact; ``max_seg_num`` then
            still caps the total, not each group (for a cap per video use
            :func:`soft_nms_per_video`).
        params: the fields of :class:`SoftNMSParams` (``method``, ``sigma``, ...).

    Returns:
        ``(segments (K, 2), scores (K,), labels (K,))`` sorted by descending
        score, on the input device.
    """
    p = SoftNMSParams(**params)
    segments, scores, labels = _as_inputs(segments, scores, labels)
    key = _class_key(labels, p.multiclass)
    if groups is not None:
        key = groups.reshape(-1).long() * (int(key.max()) + 1 if len(key) else 1) + key
    with one_cpu_thread(segments.device):
        pos, score, _ = _soft_nms(segments, scores, key, None, p)
        seg = segments[pos]
        if p.voting_thresh > 0:
            keep = scores >= p.min_score
            seg = _score_voting(seg, key[pos], segments[keep], scores[keep], key[keep], p.voting_thresh)
    return seg, score, labels[pos]


def soft_nms_per_video(segments: Tensor, scores: Tensor, labels: Tensor, videos: Tensor,
                       **params) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Soft-NMS of many videos in one lock-step loop; each video's result
    equals :func:`batched_soft_nms` on that video alone.

    Batching amortises the per-step overhead of the small tensor ops over all
    videos (a video alone runs ~15 ops of a few thousand numbers per step).

    Args:
        segments: ``(N, 2)`` float; scores: ``(N,)``; labels: ``(N,)`` int.
        videos: ``(N,)`` int video index of each candidate (any order).
        params: the fields of :class:`SoftNMSParams` (``method``, ``sigma``, ...).

    Returns:
        ``(segments (K, 2), scores (K,), labels (K,), videos (K,))`` by video
        index, then descending score (lowest input index first on ties).
    """
    p = SoftNMSParams(**params)
    segments, scores, labels = _as_inputs(segments, scores, labels)
    videos = videos.reshape(-1).long()
    key = _class_key(labels, p.multiclass)
    key = videos * (int(key.max()) + 1 if len(key) else 1) + key
    with one_cpu_thread(segments.device):
        pos, score, _ = _soft_nms(segments, scores, key, videos, p)
        seg, vid = segments[pos], videos[pos]
        if p.voting_thresh > 0 and len(pos):
            keep = scores >= p.min_score
            c_seg, c_score, c_key, c_vid = segments[keep], scores[keep], key[keep], videos[keep]
            # One video at a time: the (K, N) tIoU matrix of all videos at once would be huge.
            bounds = torch.searchsorted(vid, torch.unique_consecutive(vid)).tolist() + [len(vid)]
            parts = []
            for a, b in zip(bounds[:-1], bounds[1:]):
                mine = c_vid == vid[a]
                parts.append(_score_voting(seg[a:b], key[pos[a:b]], c_seg[mine], c_score[mine], c_key[mine],
                                           p.voting_thresh))
            seg = torch.cat(parts)
    return seg, score, labels[pos], vid


def _as_inputs(segments: Tensor, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    segments = segments.reshape(-1, 2)
    if not segments.is_floating_point():
        segments = segments.double()
    return segments, scores.reshape(-1).to(segments.dtype), labels.reshape(-1)


def _class_key(labels: Tensor, multiclass: bool) -> Tensor:
    """Non-negative class key per candidate (all 0 when class-agnostic)."""
    if not multiclass or len(labels) == 0:
        return torch.zeros_like(labels, dtype=torch.long)
    key = labels.long()
    return key - key.min()


def _soft_nms(segments: Tensor, scores: Tensor, key: Tensor, cap: Optional[Tensor],
              params: SoftNMSParams) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """Soft-NMS within each ``key`` group, at most ``max_seg_num`` kept per
    ``cap`` value (``None``: in total).

    Returns:
        ``(pos (K,), score (K,), cap (K,) or None)``: kept positions in the
        inputs and their scores, by cap, then descending score, then position.
    """
    cfg = asdict(params)  # the kernels take the options as a dict
    max_seg_num = cfg['max_seg_num']
    if segments.device.type == 'cpu' and segments.dtype in (torch.float32, torch.float64) and max_seg_num > 0 \
            and (cap is None or len(cap) == 0 or bool((cap == cap[0]).all())):
        out = _sequential(segments.numpy(), scores.numpy(), key.numpy(), cfg)
        if out is not None:
            pos = torch.from_numpy(out[0])
            return pos, torch.from_numpy(out[1]), None if cap is None else cap[pos]
    keep = scores >= cfg['min_score']
    cand = None if bool(keep.all()) else torch.nonzero(keep).flatten()
    if (cand is not None and len(cand) == 0) or len(scores) == 0 or max_seg_num <= 0:
        empty = torch.zeros(0, dtype=torch.long, device=scores.device)
        return empty, scores.new_zeros((0,)), None if cap is None else empty
    if cand is not None:
        key = key.index_select(0, cand)
    # One stable sort gives the groups (contiguous) and input order inside each.
    s_key, order = torch.sort(key, stable=True)
    if cand is not None:
        order = cand.index_select(0, order)  # positions in the inputs
    new_group = torch.ones_like(s_key, dtype=torch.bool)
    new_group[1:] = s_key[1:] != s_key[:-1]
    starts = torch.nonzero(new_group).flatten()
    counts = torch.diff(starts, append=starts.new_tensor([len(s_key)]))
    group_cap = None
    if cap is not None:
        group_cap = torch.unique(cap.index_select(0, order.index_select(0, starts)), return_inverse=True)[1]
    n_steps = min(max_seg_num, int(counts.max()))
    pos, score = lockstep_soft_nms(scores.index_select(0, order), segments.index_select(0, order), counts,
                                   Caps(group_cap), n_steps, cfg)
    ok = torch.isfinite(score)
    kept_cap = None if group_cap is None else group_cap[:, None].expand_as(score)[ok]
    pos, score = order.index_select(0, pos[ok]), score[ok]  # positions in the inputs
    # By cap, then descending score, then lowest input index (LSD stable sorts).
    by = torch.argsort(pos)
    by = by[torch.sort(-score[by], stable=True).indices]
    if kept_cap is None:
        by = by[:max_seg_num]
    else:
        by = by[torch.sort(kept_cap[by], stable=True).indices]
        c = kept_cap[by]
        rank = torch.arange(len(c), device=c.device) - torch.searchsorted(c, c)
        by = by[rank < max_seg_num]
    pos = pos[by]
    return pos, score[by], None if cap is None else cap[pos]


def _sequential(segments: np.ndarray, scores: np.ndarray, key: np.ndarray,
                cfg: dict) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """:func:`sequential_soft_nms` of one video's candidates ``(N, 2), (N,), (N,)``:
    ``(pos (K,), score (K,))`` into the inputs by descending score, or None
    when the lock-step loop is cheaper (see ``_LOCKSTEP_STEP_COST``)."""
    cand = np.flatnonzero(scores >= cfg['min_score'])
    key = key[cand]
    n_steps = min(cfg['max_seg_num'], len(cand))
    if n_steps > _LOCKSTEP_STEP_COST and len(cand):
        largest = int(np.unique(key, return_counts=True)[1].max())
        if n_steps > _LOCKSTEP_STEP_COST * min(cfg['max_seg_num'], largest):
            return None
    pos, score = sequential_soft_nms(scores[cand], segments[cand], key, cfg)
    return cand[pos], score
