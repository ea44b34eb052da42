"""Ranking helpers for detection AP: exact stable orderings and the VOC2011
interpolated AP of many ranked lists at once."""
from __future__ import annotations

import numpy as np


def _segmented_suffix_max(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Running max from the right within runs of equal, non-decreasing ``seg``.

    Exact: the floats are replaced by their ranks, so the segment offset added
    to keep runs apart is integer arithmetic.
    """
    uniq, rank = np.unique(values, return_inverse=True)
    base = (seg[-1] - seg) * len(uniq)
    acc = np.maximum.accumulate((base + rank)[::-1])[::-1]
    return uniq[acc - base]


def interpolated_ap(tp_seg: np.ndarray, tp_pos: np.ndarray, npos: np.ndarray, n_seg: int) -> np.ndarray:
    """VOC2011 all-point interpolated AP of many ranked lists at once.

    Only true positives are needed: precision peaks at them (so the
    interpolated precision is a suffix max over true positives) and recall
    only changes there.

    Args:
        tp_seg: ``(P,)`` list id of each true positive, non-decreasing.
        tp_pos: ``(P,)`` its 0-based position in the ranked list of that id,
            increasing within an id.
        npos: ``(n_seg,)`` ground-truth count of each list (> 0 where used).
        n_seg: number of lists.

    Returns:
        ``(n_seg,)`` AP (0 for lists without true positives).
    """
    if len(tp_seg) == 0:
        return np.zeros(n_seg)
    first = np.concatenate(([True], tp_seg[1:] != tp_seg[:-1]))
    start = np.flatnonzero(first)
    k = np.arange(len(tp_seg)) - np.repeat(start, np.diff(np.append(start, len(tp_seg))))
    denom = npos[tp_seg].astype(np.float64)
    # Same float expressions as the official code: tp_cum / npos and
    # tp_cum / (tp_cum + fp_cum), with exact integer counts.
    rec = (k + 1) / denom
    rec_prev = k / denom
    prec = (k + 1.0) / (tp_pos + 1.0)
    contrib = (rec - rec_prev) * _segmented_suffix_max(prec, tp_seg)
    return np.bincount(tp_seg, weights=contrib, minlength=n_seg)


def argsort_desc_stable(x: np.ndarray) -> np.ndarray:
    """Indices sorting ``x`` descending, equal values in index order.

    A fast unstable sort, then only the runs of equal values get re-ordered
    (float stable sorts are ~4x slower and ties are rare).
    """
    order = np.argsort(-x)
    sx = x[order]
    tie = sx[1:] == sx[:-1]
    if tie.any():
        in_run = np.concatenate((tie, [False])) | np.concatenate(([False], tie))
        pos = np.flatnonzero(in_run)
        run_id = np.cumsum(np.concatenate(([True], ~tie)))[pos]
        order[pos] = order[pos][np.lexsort((order[pos], run_id))]
    return order


def stable_argsort_int(x: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of non-negative ints ``< bound`` (radix sort if they fit 16 bits)."""
    if bound <= 1 << 16:
        x = x.astype(np.uint16)
    return np.argsort(x, kind='stable')
