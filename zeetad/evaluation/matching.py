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
    return _tiou(a[:, 0], a[:, 1], b[:, 0], b[:, 1])


def _tiou(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    inter = np.minimum(a1, b1)
    inter -= np.maximum(a0, b0)
    np.maximum(inter, 0.0, out=inter)
    # (len_a + len_b) - inter: the official evaluator's operation order.
    union = np.maximum(a1 - a0, 0.0)
    union += np.maximum(b1 - b0, 0.0)
    union -= inter
    out = np.zeros(len(inter))
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
    ps, pe = np.ascontiguousarray(pred_segments.T)
    gs, ge = np.ascontiguousarray(gt_segments.T)
    tiou = _tiou(ps[pi], pe[pi], gs[gi], ge[gi])
    useful = tiou >= tiou_thresholds.min()
    pi, gi, tiou = pi[useful], gi[useful], tiou[useful]

    # One block per threshold, threshold-major, so segments stay contiguous.
    n_groups = int(pred_group[-1]) + 1
    blocks = [np.flatnonzero(tiou >= thr) for thr in tiou_thresholds]
    # int32 where it fits: the rounds below are memory-bound filtering.
    itype = np.int32 if n_thr * max(n, m, n_groups) < 2**31 else np.int64
    offsets = np.repeat(np.arange(n_thr, dtype=itype), [len(b) for b in blocks])
    sel = np.concatenate(blocks)
    seg = pred_group[pi[sel]].astype(itype) + offsets * itype(n_groups)
    pred = pi[sel].astype(itype) + offsets * itype(n)
    gt = gi[sel].astype(itype) + offsets * itype(m)
    tiou = tiou[sel]

    flat_tp = tp.reshape(-1)
    locked = np.zeros(n_thr * m, dtype=bool)
    while len(seg):
        # In each segment the earliest prediction that still has a live pair
        # matches now; its live pairs form the run that starts the segment.
        first = np.flatnonzero(np.concatenate(([True], seg[1:] != seg[:-1])))
        lengths = np.diff(np.append(first, len(seg)))
        head = np.repeat(pred[first], lengths)
        in_run = pred == head
        run = np.flatnonzero(in_run)
        run_len = np.add.reduceat(in_run, first, dtype=np.int64)
        run_start = np.cumsum(run_len) - run_len
        # Best tIoU within the run; the first such pair (lowest GT index) wins.
        best = np.maximum.reduceat(tiou[run], run_start)
        hit = np.flatnonzero(tiou[run] == np.repeat(best, run_len))
        hit_run = np.repeat(np.arange(len(first)), run_len)[hit]
        chosen = run[hit[np.concatenate(([True], hit_run[1:] != hit_run[:-1]))]]
        flat_tp[pred[chosen]] = True
        locked[gt[chosen]] = True
        live = (pred > head) & ~locked[gt]
        seg, pred, gt, tiou = seg[live], pred[live], gt[live], tiou[live]
    return tp
