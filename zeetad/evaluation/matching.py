"""Vectorised greedy matching of detections to ground truth (ActivityNet rules).

The official evaluator walks the predictions of one class in descending score
order and gives each one the not-yet-matched ground-truth instance of the same
video with the highest tIoU, if that tIoU reaches the threshold. The walk is
sequential, but only *within* one (threshold, class, video) group: groups are
independent. We run the walk for all groups and thresholds at once, one *match*
per group per round, so the Python loop runs ``max matches per group`` times
(at most the number of instances of one class in one video), never once per
prediction. The first round has a closed form (below), so most groups -- all
those with a single instance -- never enter the loop.
"""
from __future__ import annotations

import numpy as np

from zeetad.structures.tiou_numpy import paired_tiou


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(starts[i], starts[i] + counts[i])``."""
    first = np.cumsum(counts) - counts
    return np.repeat(starts - first, counts) + np.arange(int(counts.sum()))


def _run_starts(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal consecutive ``keys``."""
    return np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))


def _first_argmax_per_run(values: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run: the max of ``values`` and the index of its first occurrence."""
    lengths = np.diff(np.append(starts, len(values)))
    best = np.maximum.reduceat(values, starts)
    hit = np.flatnonzero(values == np.repeat(best, lengths))
    hit_run = np.repeat(np.arange(len(starts)), lengths)[hit]
    return best, hit[np.concatenate(([True], hit_run[1:] != hit_run[:-1]))]


def _first_round(pi: np.ndarray, gi: np.ndarray, tiou: np.ndarray, pred_group: np.ndarray,
                 thresholds: np.ndarray) -> tuple:
    """Round one in closed form.

    Round one is the same for every threshold except for *which* prediction
    matches: the first of its group whose best tIoU reaches the threshold; it
    takes its best instance. With ``reach`` = number of thresholds a
    prediction's best tIoU reaches, it matches exactly the thresholds between
    the running max of ``reach`` before it in its group and its own ``reach``
    (integer prefix maxima).

    Returns:
        ``(t, pred, gt, group)`` of every match and ``pair_group (P,)``, with
        groups densely numbered.
    """
    n_thr = len(thresholds)
    starts = _run_starts(pi)  # one run of pairs per prediction
    best, best_pair = _first_argmax_per_run(tiou, starts)
    pred, gt = pi[starts], gi[best_pair]
    group = np.cumsum(np.concatenate(([True], pred_group[pred[1:]] != pred_group[pred[:-1]]))) - 1
    pair_group = np.repeat(group, np.diff(np.append(starts, len(pi))))
    t_order = np.argsort(thresholds, kind='stable')
    reach = np.searchsorted(thresholds[t_order], best, side='right')
    offset = group * (n_thr + 1)  # keeps the prefix maxima inside a group
    upto = np.maximum.accumulate(offset + reach) - offset
    before = np.concatenate(([0], upto[:-1]))
    before[np.concatenate(([True], group[1:] != group[:-1]))] = 0
    count = np.maximum(reach - before, 0)
    t = t_order[_ragged_arange(before, count)]
    return t, np.repeat(pred, count), np.repeat(gt, count), np.repeat(group, count), pair_group


def greedy_match(
    pred_group: np.ndarray,
    pred_segments: np.ndarray,
    gt_group: np.ndarray,
    gt_segments: np.ndarray,
    tiou_thresholds: np.ndarray,
) -> np.ndarray:
    """Greedy one-to-one matching for every threshold and group at once.

    Predictions must already be in their walk order: sorted by group, then in
    ranking order. Ground truth must be sorted by group (stable: input order
    within a group). Among instances of equal tIoU a prediction takes the one
    the official evaluator tries first: it visits a video's instances in the
    order ``tiou.argsort()[::-1]`` (numpy's default, unstable sort, reversed),
    and we call that sort on the same tIoU row wherever such ties can matter.

    Args:
        pred_group: ``(N,)`` int group id (class and video) per prediction,
            non-decreasing.
        pred_segments: ``(N, 2)`` float segments.
        gt_group: ``(M,)`` int group id per instance, non-decreasing.
        gt_segments: ``(M, 2)`` float segments.
        tiou_thresholds: ``(T,)`` thresholds.

    Returns:
        ``(P,)`` int64 flat indices ``t * N + i`` of the true positives
        (threshold ``t``, prediction ``i``), unordered.
    """
    n, m, n_thr = len(pred_group), len(gt_group), len(tiou_thresholds)
    none = np.zeros(0, np.int64)
    if n == 0 or m == 0 or n_thr == 0:
        return none
    lo = np.searchsorted(gt_group, pred_group, side='left')
    hi = np.searchsorted(gt_group, pred_group, side='right')
    counts = hi - lo
    pi = np.repeat(np.arange(n), counts)
    gi = _ragged_arange(lo, counts)
    ps, pe = np.ascontiguousarray(pred_segments.T)
    gs, ge = np.ascontiguousarray(gt_segments.T)
    tiou_all = paired_tiou(ps[pi], pe[pi], gs[gi], ge[gi])
    useful = tiou_all >= tiou_thresholds.min()
    pi, gi, tiou = pi[useful], gi[useful], tiou_all[useful]
    if len(pi) == 0:
        return none
    _official_tie_order(pi, gi, tiou, lo, np.cumsum(counts) - counts, counts, tiou_all)

    t1, p1, g1, grp1, pair_group = _first_round(pi, gi, tiou, pred_group, tiou_thresholds)
    tp = [t1 * n + p1]
    # Only groups with several instances can match again.
    multi = counts[pi] > 1
    if multi.any():
        first = np.full((n_thr, int(pair_group[-1]) + 1), -1, np.int64)
        first_gt = first.copy()
        first[t1, grp1] = p1
        first_gt[t1, grp1] = g1
        tp += _later_rounds(n, pi[multi], gi[multi], tiou[multi], pair_group[multi], first, first_gt,
                            tiou_thresholds)
    return np.concatenate(tp).astype(np.int64)


def _official_tie_order(pi: np.ndarray, gi: np.ndarray, tiou: np.ndarray, lo: np.ndarray, row_start: np.ndarray,
                        counts: np.ndarray, tiou_all: np.ndarray) -> None:
    """Reorder, in place, the pairs of each prediction whose kept tIoUs tie, so that among equal tIoU the
    instance the official evaluator tries first comes first (the matcher takes the first of equal maxima).

    Args:
        pi, gi, tiou: ``(P,)`` kept pairs, sorted by prediction, instances ascending.
        lo, row_start, counts: ``(N,)`` per prediction: its group's first instance, the offset of its row
            in ``tiou_all`` and the row's length (all instances of its group).
        tiou_all: tIoU of every (prediction, same-group instance) pair, row by row: the official
            ``tiou_arr``. Rows without ties (almost all on real data) are left alone.
    """
    multi = np.flatnonzero(np.bincount(pi, minlength=len(lo))[pi] > 1)
    if len(multi) < 2:
        return
    o = multi[np.lexsort((tiou[multi], pi[multi]))]
    tied = (pi[o[1:]] == pi[o[:-1]]) & (tiou[o[1:]] == tiou[o[:-1]])
    for r in np.unique(pi[o[1:]][tied]):
        a, b = np.searchsorted(pi, r, 'left'), np.searchsorted(pi, r, 'right')
        full = tiou_all[row_start[r]:row_start[r] + counts[r]]
        visit = np.empty(len(full), np.int64)
        visit[np.argsort(full)[::-1]] = np.arange(len(full))  # the official loop's visiting order
        perm = a + np.argsort(visit[gi[a:b] - lo[r]], kind='stable')
        gi[a:b], tiou[a:b] = gi[perm], tiou[perm]


def _later_rounds(n: int, pi: np.ndarray, gi: np.ndarray, tiou: np.ndarray, group: np.ndarray,
                  first: np.ndarray, first_gt: np.ndarray, thresholds: np.ndarray) -> list:
    """Rounds two onwards, all thresholds and groups at once.

    Args:
        n: number of predictions.
        pi, gi, tiou, group: ``(P,)`` pairs sorted by prediction (walk order);
            within one prediction, of equal tIoU the preferred instance first.
        first, first_gt: ``(T, G)`` round one's match per threshold and group.
    """
    n_thr = len(thresholds)
    m = int(gi.max()) + 1
    n_groups = first.shape[1]
    # Live pairs at threshold t: reach it, come after round one's match and
    # are not its instance. One block per threshold keeps segments contiguous.
    blocks = [np.flatnonzero((tiou >= thr) & (pi > first[t, group]) & (gi != first_gt[t, group]))
              for t, thr in enumerate(thresholds)]
    # int32 where it fits: the rounds below are memory-bound filtering.
    itype = np.int32 if n_thr * max(n, m, n_groups) < 2**31 else np.int64
    offsets = np.repeat(np.arange(n_thr, dtype=itype), [len(b) for b in blocks])
    sel = np.concatenate(blocks)
    seg = group[sel].astype(itype) + offsets * itype(n_groups)
    pred = pi[sel].astype(itype) + offsets * itype(n)
    gt = gi[sel].astype(itype) + offsets * itype(m)
    tiou = tiou[sel]

    matches = []
    locked = np.zeros(n_thr * m, dtype=bool)
    while len(seg):
        # In each segment the earliest prediction that still has a live pair
        # matches now; its live pairs form the run that starts the segment,
        # and it takes the best of them (first on ties).
        starts = _run_starts(seg)
        head = np.repeat(pred[starts], np.diff(np.append(starts, len(seg))))
        run = np.flatnonzero(pred == head)
        _, chosen = _first_argmax_per_run(tiou[run], _run_starts(seg[run]))
        chosen = run[chosen]
        matches.append(pred[chosen])
        locked[gt[chosen]] = True
        live = (pred > head) & ~locked[gt]
        seg, pred, gt, tiou = seg[live], pred[live], gt[live], tiou[live]
    return matches
