"""Vectorised greedy matching of detections to ground truth (ActivityNet rules).

The official evaluator walks the predictions of one class in descending score
order and gives each one the not-yet-matched ground-truth instance of the same
video with the highest tIoU, if that tIoU reaches the threshold. The walk is
sequential, but only *within* one (threshold, class, video) group: groups are
independent. We therefore run the walk for all groups at once, one *match* per
group per round, so the Python loop runs ``max matches per group`` times (at
most the number of ground-truth instances of one class in one video), never
once per prediction.
"""
from __future__ import annotations

import numpy as np


def paired_tiou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tIoU of row-aligned segment pairs.

    Args:
        a: ``(K, 2)`` segments ``[start, end]``.
        b: ``(K, 2)`` segments.

    Returns:
        ``(K,)`` float64 tIoU. Lengths are clamped at 0 (an inverted segment
        counts as zero-length) and a zero union gives 0, where the official
        code divides by zero.
    """
    inter = np.minimum(a[:, 1], b[:, 1]) - np.maximum(a[:, 0], b[:, 0])
    inter = np.maximum(inter, 0.0)
    union = np.maximum(a[:, 1] - a[:, 0], 0.0) + np.maximum(b[:, 1] - b[:, 0], 0.0) - inter
    out = np.zeros_like(inter, dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def _ragged_pairs(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand ``counts[i]`` consecutive partners from ``starts[i]`` per row i.

    Returns ``(row (P,), partner (P,))`` with rows in ascending order and the
    partners of one row ascending.
    """
    total = int(counts.sum())
    row = np.repeat(np.arange(len(counts)), counts)
    first = np.cumsum(counts) - counts
    partner = np.repeat(starts - first, counts) + np.arange(total)
    return row, partner


def greedy_match(
    pred_group: np.ndarray,
    pred_segments: np.ndarray,
    gt_group: np.ndarray,
    gt_segments: np.ndarray,
    tiou_thresholds: np.ndarray,
) -> np.ndarray:
    """Greedy one-to-one matching for every threshold and group at once.

    Predictions must already be in their walk order: sorted by group, then by
    descending score with ties in the caller's order. Ground truth must be
    sorted by group (stable); among equal tIoU the earlier instance wins, as
    ``np.argmax`` would pick.

    Args:
        pred_group: ``(N,)`` int group id (class and video) per prediction,
            non-decreasing.
        pred_segments: ``(N, 2)`` float segments.
        gt_group: ``(M,)`` int group id per instance, non-decreasing.
        gt_segments: ``(M, 2)`` float segments.
        tiou_thresholds: ``(T,)`` thresholds.

    Returns:
        ``(T, N)`` bool, True where the prediction is a true positive.
    """
    n, m, n_thr = len(pred_group), len(gt_group), len(tiou_thresholds)
    tp = np.zeros((n_thr, n), dtype=bool)
    if n == 0 or m == 0:
        return tp
    lo = np.searchsorted(gt_group, pred_group, side='left')
    hi = np.searchsorted(gt_group, pred_group, side='right')
    pi, gi = _ragged_pairs(lo, hi - lo)
    tiou = paired_tiou(pred_segments[pi], gt_segments[gi])
    useful = tiou >= tiou_thresholds.min()
    pi, gi, tiou = pi[useful], gi[useful], tiou[useful]
    # Within one prediction, candidates by descending tIoU, first index on ties.
    order = np.lexsort((-tiou, pi))
    pi, gi, tiou = pi[order], gi[order], tiou[order]

    # One block per threshold, threshold-major, so segments stay contiguous.
    seg_l, pred_l, gt_l = [], [], []
    for t, thr in enumerate(tiou_thresholds):
        keep = np.flatnonzero(tiou >= thr)
        seg_l.append(pred_group[pi[keep]] + t * (int(pred_group[-1]) + 1))
        pred_l.append(pi[keep] + t * n)
        gt_l.append(gi[keep] + t * m)
    seg = np.concatenate(seg_l)
    pred = np.concatenate(pred_l)
    gt = np.concatenate(gt_l)

    flat_tp = tp.reshape(-1)
    locked = np.zeros(n_thr * m, dtype=bool)
    while len(seg):
        # The first live pair of each segment is its next match: the earliest
        # prediction still holding a candidate, paired with its best one.
        first = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
        flat_tp[pred[first]] = True
        locked[gt[first]] = True
        lengths = np.diff(np.append(first, len(seg)))
        matched = np.repeat(pred[first], lengths)
        live = (pred > matched) & ~locked[gt]
        seg, pred, gt = seg[live], pred[live], gt[live]
    return tp
