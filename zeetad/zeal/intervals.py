"""ZEAL stage 5a: interval proposals from one class's start/end confidence curves.

All positions are frame indices on the confidence grid (1 fps by default); the
caller converts them to seconds. The rules follow ZEAL's released code, with
the corner cases decided explicitly (see each function).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Mapping, Optional

import numpy as np


@dataclass(frozen=True)
class IntervalConfig:
    """Parameters of the interval stage (defaults: ZEAL's published ones).

    Attributes:
        eps: min-max normalised curves lie in ``[eps, 1 - eps]``.
        top_p: boundary candidates are frames scoring at least the
            ``floor(top_p * T)``-th largest value of their curve.
        min_gap: kept candidates are at least this many frames apart.
        max_length: longest interval as a fraction of the video's frames.
        boundary_weight: lambda in ``lambda * (p_start + p_end) + (1 - lambda) * mean actionness``.
        min_class_mean: classes whose raw start/end confidences average below
            this are skipped (``None``: never); the caller disables it when
            classes come from ground-truth video labels, as ZEAL does.
        nms_sigma: Gaussian Soft-NMS width.
        nms_min_score: Soft-NMS drops intervals whose decayed score falls below.
        merge_iou: consecutive intervals (by start) overlapping more than this
            are merged into their union with the mean score.
        merge_min_score: intervals scoring below this after merging are dropped.
        nms_block_elements: bound on ``curves x proposals`` per batched Soft-NMS call (speed only).
    """
    eps: float = 0.05
    top_p: float = 0.35
    min_gap: int = 5
    max_length: float = 0.95
    boundary_weight: float = 0.1
    min_class_mean: Optional[float] = 0.1
    nms_sigma: float = 1.3
    nms_min_score: float = 0.1
    merge_iou: float = 0.9
    merge_min_score: float = 0.0
    nms_block_elements: int = 16384

    def __post_init__(self):
        if not 0 <= self.eps < 0.5:
            raise ValueError(f'intervals.eps must be in [0, 0.5), got {self.eps}')
        if not 0 < self.top_p <= 1:
            raise ValueError(f'intervals.top_p must be in (0, 1], got {self.top_p}')
        if self.min_gap < 1:
            raise ValueError(f'intervals.min_gap must be >= 1 frame, got {self.min_gap}')
        if not 0 < self.max_length <= 1:
            raise ValueError(f'intervals.max_length must be in (0, 1], got {self.max_length}')
        if not 0 <= self.boundary_weight <= 1:
            raise ValueError(f'intervals.boundary_weight must be in [0, 1], got {self.boundary_weight}')
        if self.nms_sigma <= 0:
            raise ValueError(f'intervals.nms_sigma must be positive, got {self.nms_sigma}')

    @classmethod
    def from_dict(cls, cfg: Optional[Mapping] = None) -> 'IntervalConfig':
        cfg = dict(cfg or {})
        unknown = set(cfg) - {f.name for f in fields(cls)}
        if unknown:
            raise KeyError(f'unknown interval options {sorted(unknown)}; expected {[f.name for f in fields(cls)]}')
        return cls(**cfg)

    def to_dict(self) -> dict:
        return asdict(self)


def minmax_normalize(scores: np.ndarray, eps: float) -> np.ndarray:
    """Min-max normalise each column of ``scores (T, ...)`` into ``[eps, 1 - eps]``.

    A constant column has no boundary information; it maps to NaN so callers
    can tell it apart (the reference code divides 0 by 0 there as well).
    """
    scores = np.asarray(scores, dtype=np.float64)
    lo, hi = scores.min(axis=0), scores.max(axis=0)
    span = hi - lo
    with np.errstate(invalid='ignore', divide='ignore'):
        unit = (scores - lo) / np.where(span > 0, span, np.nan)
    return unit * (1.0 - 2.0 * eps) + eps


def boundary_candidates(scores: np.ndarray, top_p: float, min_gap: int) -> np.ndarray:
    """Frames of one normalised curve ``(T,)`` that may be a start (or an end).

    Candidates score at least the ``floor(top_p * T)``-th largest value (ties
    at the threshold all count). They are then thinned greedily by descending
    score (earlier frame first on ties): a candidate is kept if it is at least
    ``min_gap`` frames from every kept one. When ``floor(top_p * T) < 1`` the
    curve is too short to rank and frame 0 (for starts) is returned by the
    caller's convention, see :func:`propose_intervals`.

    Returns:
        ``(K,)`` int64 kept frame indices, ascending.
    """
    num = len(scores)
    k = int(np.floor(top_p * num))
    if k < 1:
        return np.zeros(0, np.int64)
    threshold = np.partition(scores, num - k)[num - k]
    cand = np.flatnonzero(scores >= threshold)
    cand = cand[np.argsort(-scores[cand], kind='stable')]
    if min_gap <= 1:
        return np.sort(cand)
    # Greedy suppression: a kept frame blocks its (min_gap - 1)-neighbourhood; positions are integers, so a
    # boolean "blocked" row replaces the all-pairs distance check of the reference code.
    blocked = np.zeros(num + 2 * min_gap, dtype=bool)
    kept = []
    for c in cand.tolist():
        if not blocked[c + min_gap]:
            kept.append(c)
            blocked[c + 1:c + 2 * min_gap] = True
    return np.array(sorted(kept), dtype=np.int64)


def pair_boundaries(starts: np.ndarray, ends: np.ndarray, max_len: float) -> np.ndarray:
    """Pair sorted start and end candidates into intervals.

    Start ``s_i`` pairs with every later end ``e > s_i`` with ``e - s_i <=
    max_len``, scanning ends in time order up to and including the first end
    after the next start ``s_{i+1}`` (the last start pairs with all later
    ends). Exactly the reference rule, without its Python double loop.

    Returns:
        ``(P, 2)`` int64 ``[start, end]`` frame pairs, by start then end.
    """
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    if len(starts) == 0 or len(ends) == 0:
        return np.zeros((0, 2), np.int64)
    lo = np.searchsorted(ends, starts, side='right')  # first end strictly after the start
    nxt = np.searchsorted(ends, starts[1:], side='right')  # first end strictly after the next start
    hi = np.append(np.minimum(nxt + 1, len(ends)), len(ends))  # exclusive bound
    counts = np.maximum(hi - lo, 0)
    start_rep = np.repeat(starts, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    end_rep = ends[np.repeat(lo, counts) + offsets]
    keep = (end_rep - start_rep) <= max_len
    return np.stack([start_rep[keep], end_rep[keep]], axis=1)


def score_intervals(pairs: np.ndarray, start_curve: np.ndarray, end_curve: np.ndarray, actionness: np.ndarray,
                    boundary_weight: float) -> np.ndarray:
    """``lambda * (p_start[s] + p_end[e]) + (1 - lambda) * mean(actionness[s..e])`` (both ends included).

    Args:
        pairs: ``(P, 2)`` int frame pairs; start_curve / end_curve / actionness: ``(T,)``.

    Returns:
        ``(P,)`` float64.
    """
    if len(pairs) == 0:
        return np.zeros(0)
    s, e = pairs[:, 0], pairs[:, 1]
    csum = np.concatenate([[0.0], np.cumsum(np.asarray(actionness, np.float64))])
    mean_act = (csum[e + 1] - csum[s]) / (e - s + 1)
    return boundary_weight * (start_curve[s] + end_curve[e]) + (1.0 - boundary_weight) * mean_act


def propose_intervals(curves: np.ndarray, actionness: np.ndarray, cfg: IntervalConfig,
                      skip_low_mean: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Scored interval proposals of one class in one video, before Soft-NMS.

    Args:
        curves: ``(T, 2)`` raw P(yes) of the start and end questions per frame.
        actionness: ``(T,)`` cosine of each frame's CLIP feature with the class description.
        cfg: the interval parameters.
        skip_low_mean: apply ``cfg.min_class_mean`` (ZEAL turns it off with ground-truth class labels).

    Returns:
        ``pairs (P, 2)`` int64 frame indices and ``scores (P,)`` float64. Empty when the class is skipped,
        a curve is constant or non-finite (no boundary information) or no start precedes an end.
    """
    curves = np.asarray(curves, np.float64)
    actionness = np.asarray(actionness, np.float64)
    num = curves.shape[0]
    if curves.ndim != 2 or curves.shape[1] != 2 or actionness.shape != (num,):
        raise ValueError(f'expected curves (T, 2) and actionness (T,), got {curves.shape} and {actionness.shape}')
    empty = (np.zeros((0, 2), np.int64), np.zeros(0))
    if num < 2 or not np.isfinite(curves).all() or not np.isfinite(actionness).all():
        return empty
    if skip_low_mean and cfg.min_class_mean is not None and curves.mean() < cfg.min_class_mean:
        return empty
    norm = minmax_normalize(curves, cfg.eps)
    if np.isnan(norm).any():
        return empty
    if int(np.floor(cfg.top_p * num)) < 1:
        starts, ends = np.array([0]), np.array([num - 1])  # too short to rank: the whole video
    else:
        starts = boundary_candidates(norm[:, 0], cfg.top_p, cfg.min_gap)
        ends = boundary_candidates(norm[:, 1], cfg.top_p, cfg.min_gap)
    pairs = pair_boundaries(starts, ends, cfg.max_length * num)
    return pairs, score_intervals(pairs, norm[:, 0], norm[:, 1], actionness, cfg.boundary_weight)
