"""Ranking helpers for detection AP: the official evaluator's ranking and the
VOC2011 interpolated AP of many ranked lists at once."""
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


def curve_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """AP of one precision-recall curve ``(K,)``, ``(K,)``: the same VOC2011 all-point rule as
    :func:`interpolated_ap`, from the curve a plot draws instead of the true-positive positions."""
    mprec = np.concatenate(([0.0], np.asarray(precision, np.float64), [0.0]))
    mrec = np.concatenate(([0.0], np.asarray(recall, np.float64), [1.0]))
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def official_rank(labels: np.ndarray, scores: np.ndarray, num_classes: int) -> np.ndarray:
    """The official evaluator's ranking, grouped by class.

    Per class it ranks that class's predictions, in input order, by
    ``scores.argsort()[::-1]``: numpy's default (unstable) sort, reversed. So
    equal scores come in whatever order that sort leaves them, reversed; we
    call the same sort on the same array, so ties land exactly where they land
    there (on the same numpy build).

    Args:
        labels: ``(N,)`` int class per prediction in ``[0, num_classes)``.
        scores: ``(N,)`` float64.
        num_classes: number of classes.

    Returns:
        ``(N,)`` indices: class 0's ranking, then class 1's, ...
    """
    by_class = stable_argsort_int(labels, num_classes)
    bounds = np.searchsorted(labels[by_class], np.arange(num_classes + 1))
    rank = by_class.copy()
    for c in np.flatnonzero(bounds[1:] > bounds[:-1]):  # one sort per class, as there: <= 200 calls
        lo, hi = bounds[c], bounds[c + 1]
        idx = by_class[lo:hi]
        rank[lo:hi] = idx[np.argsort(scores[idx])[::-1]]
    return rank


def stable_argsort_int(x: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of non-negative ints ``< bound`` (radix sort if they fit 16 bits)."""
    if bound <= 1 << 16:
        x = x.astype(np.uint16)
    return np.argsort(x, kind='stable')
