"""ActivityNet-style detection mAP, vectorised.

Semantics follow the official ``Evaluation/eval_detection.py``: per class,
predictions by descending score, each matched to the unmatched same-video
instance of highest tIoU if that tIoU >= threshold; AP is the VOC2011 all-point
interpolated area under precision/recall; mAP the mean over classes that have
ground truth. Ties are broken as there, by numpy's default (unstable) argsort,
reversed: of predictions with equal scores (within a class, in input order) and
of instances with equal tIoU (within a video, in ground-truth order); we call
that sort on the same arrays, so tied inputs give the official numbers too.

Where the official code crashes or is ill-defined we decide explicitly:

* zero-length (or inverted) segments have tIoU 0 with everything (the official
  code divides 0 by 0 and can count a NaN as a match);
* exact duplicate ground-truth instances (same video, label, segment) count once
  (``deduplicate_gt=True``), reported as ``num_duplicate_gt``;
* predictions whose label is not scored, or whose video is not evaluated, are
  ignored and counted (the official code raises KeyError / counts them);
* videos without predictions still contribute their ground truth;
* classes with ground truth but no predictions get AP 0; classes without ground
  truth get AP ``None`` in ``per_class`` and are left out of the mean;
* blocked videos are removed from both sides (a list you pass, never fetched).
"""
from __future__ import annotations

import warnings
from itertools import chain, repeat
from operator import itemgetter
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from .matching import greedy_match
from .ranking import interpolated_ap, official_rank, stable_argsort_int

THUMOS14_TIOUS = (0.3, 0.4, 0.5, 0.6, 0.7)
# Exactly the official evaluator's grid (``0.8999999999999999``, not 0.9): a
# tIoU of exactly 0.9 is a match there, and must be here too.
ACTIVITYNET_TIOUS = tuple(float(x) for x in np.linspace(0.5, 0.95, 10))


def tiou_key(t: float) -> str:
    """Stable string key of a threshold, e.g. ``0.6000000000000001 -> '0.6'``."""
    return format(round(float(t), 6), 'g')


def _as_int_ids(*arrays: np.ndarray) -> list[np.ndarray]:
    """Map arbitrary ids (e.g. video names) to shared dense ints."""
    arrays = [np.asarray(a).reshape(-1) for a in arrays]
    total = sum(len(a) for a in arrays)
    if all(np.issubdtype(a.dtype, np.integer) for a in arrays) and all(
            a.min(initial=0) >= 0 and a.max(initial=0) <= 2 * total for a in arrays):
        return [a.astype(np.int64) for a in arrays]  # already small dense-ish ints
    _, inv = np.unique(np.concatenate(arrays), return_inverse=True)
    return np.split(inv.reshape(-1).astype(np.int64), np.cumsum([len(a) for a in arrays])[:-1])


def average_precision_detection(
    gt_videos: np.ndarray,
    gt_segments: np.ndarray,
    pred_videos: np.ndarray,
    pred_segments: np.ndarray,
    pred_scores: np.ndarray,
    tiou_thresholds: Sequence[float] = ACTIVITYNET_TIOUS,
    *,
    gt_labels: Optional[np.ndarray] = None,
    pred_labels: Optional[np.ndarray] = None,
    num_classes: Optional[int] = None,
) -> np.ndarray:
    """AP per class and threshold from flat arrays.

    Args:
        gt_videos: ``(M,)`` video id per instance (ints or strings).
        gt_segments: ``(M, 2)`` ``[start, end]``.
        pred_videos: ``(N,)`` video id per prediction.
        pred_segments: ``(N, 2)``.
        pred_scores: ``(N,)``; ties ordered as the official evaluator orders them.
        tiou_thresholds: ``(T,)``.
        gt_labels, pred_labels: ``(M,)`` / ``(N,)`` int class indices in
            ``[0, num_classes)``; omit both for a single class.
        num_classes: number of classes (default: max label + 1).

    Returns:
        ``(C, T)`` AP, or ``(T,)`` when labels are omitted. Classes without
        ground truth get NaN; with ground truth but no predictions, 0.
    """
    thr = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    if len(thr) == 0:
        raise ValueError('need at least one tIoU threshold')
    gt_segments = np.asarray(gt_segments, dtype=np.float64).reshape(-1, 2)
    pred_segments = np.asarray(pred_segments, dtype=np.float64).reshape(-1, 2)
    pred_scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    single = gt_labels is None and pred_labels is None
    gl = np.zeros(len(gt_segments), np.int64) if gt_labels is None else np.asarray(gt_labels, np.int64)
    pl = np.zeros(len(pred_segments), np.int64) if pred_labels is None else np.asarray(pred_labels, np.int64)
    if (gt_labels is None) != (pred_labels is None):
        raise ValueError('give both gt_labels and pred_labels, or neither')
    if num_classes is None:
        num_classes = int(max(gl.max(initial=-1), pl.max(initial=-1))) + 1 if not single else 1
    for lab in (gl, pl):
        if len(lab) and (lab.min() < 0 or lab.max() >= num_classes):
            raise ValueError(f'labels must lie in [0, {num_classes})')
    if not (np.isfinite(pred_scores).all() and np.isfinite(pred_segments).all()
            and np.isfinite(gt_segments).all()):
        raise ValueError('segments and scores must be finite')
    gv, pv = _as_int_ids(gt_videos, pred_videos)
    n_vid = int(max(gv.max(initial=-1), pv.max(initial=-1))) + 1

    n = len(pred_scores)
    rank = official_rank(pl, pred_scores, num_classes)  # (class, score) as the official code ranks
    # Walk order (class, video, rank) by LSD passes of stable sorts over the ranking.
    w = rank[stable_argsort_int(pv[rank], n_vid)]
    walk = w[stable_argsort_int(pl[w], num_classes)]
    pred_group = pl * n_vid + pv
    gorder = np.argsort(gl * n_vid + gv, kind='stable')
    tp_walk = greedy_match(pred_group[walk], pred_segments[walk],
                           (gl * n_vid + gv)[gorder], gt_segments[gorder], thr)
    npos = np.bincount(gl, minlength=num_classes)
    class_start = np.searchsorted(pl[rank], np.arange(num_classes))
    # True positives as (threshold, class) list ids and positions in the ranking.
    rank_of = np.empty(n, np.int64)
    rank_of[rank] = np.arange(n)
    t_idx, w_idx = np.divmod(tp_walk, max(n, 1))
    key = np.sort(t_idx * n + rank_of[walk[w_idx]])
    t_idx, r_idx = np.divmod(key, max(n, 1))
    cls = pl[rank[r_idx]]
    # ids ordered (threshold, class): non-decreasing since key is sorted.
    ap = interpolated_ap(t_idx * num_classes + cls, r_idx - class_start[cls],
                         np.tile(npos, len(thr)), len(thr) * num_classes)
    ap = ap.reshape(len(thr), num_classes).T.copy()
    ap[npos == 0] = np.nan
    return ap[0] if single else ap


def _flatten_gt(ground_truth: Mapping[str, list], label_index: dict, video_index: dict, dedup: bool):
    vids, segs, labels, seen = [], [], [], set()
    n_dup = n_zero = 0
    for name, instances in ground_truth.items():
        vid = video_index[name]
        for inst in instances:
            c = label_index.get(inst['label'])
            if c is None:
                continue
            s, e = float(inst['segment'][0]), float(inst['segment'][1])
            if dedup:
                key = (vid, c, s, e)
                if key in seen:
                    n_dup += 1
                    continue
                seen.add(key)
            n_zero += e <= s
            vids.append(vid)
            segs.append((s, e))
            labels.append(c)
    return vids, segs, labels, n_dup, n_zero


def _flatten_predictions(predictions: Mapping[str, list], label_index: dict, video_index: dict,
                         blocked: set) -> tuple:
    """Official-format predictions -> flat arrays, one comprehension per field
    (this parsing, not the matching, dominates at ActivityNet scale)."""
    ignored = {'unknown_label': 0, 'unknown_video': 0, 'blocked_video': 0}
    flat, vids, counts = [], [], []
    for name, preds in predictions.items():
        if name in blocked:
            ignored['blocked_video'] += len(preds)
            continue
        vid = video_index.get(name)
        if vid is None:
            ignored['unknown_video'] += len(preds)
            continue
        flat.extend(preds)
        vids.append(vid)
        counts.append(len(preds))
    n = len(flat)
    # map/itemgetter loops run in C: ~2x faster than comprehensions here.
    labels = np.fromiter(map(label_index.get, map(itemgetter('label'), flat), repeat(-1)), np.int64, n)
    scores = np.fromiter(map(itemgetter('score'), flat), np.float64, n)
    segs = list(map(itemgetter('segment'), flat))
    if n and set(map(len, segs)) != {2}:
        raise ValueError('every prediction segment must be [start, end]')
    segs = np.fromiter(chain.from_iterable(segs), np.float64, 2 * n).reshape(n, 2)
    videos = np.repeat(np.asarray(vids, np.int64), counts)
    known = labels >= 0
    ignored['unknown_label'] = int(n - known.sum())
    if ignored['unknown_label']:
        videos, labels, scores, segs = videos[known], labels[known], scores[known], segs[known]
    return videos, labels, scores, segs, ignored


def evaluate_detections(
    ground_truth: Mapping[str, list],
    predictions: Mapping[str, list],
    tiou_thresholds: Iterable[float] = THUMOS14_TIOUS,
    *,
    classes: Optional[Sequence[str]] = None,
    blocked_videos: Optional[Iterable[str]] = None,
    deduplicate_gt: bool = True,
) -> dict:
    """Evaluate official-format detections.

    Args:
        ground_truth: ``{video: [{"label", "segment": [s, e]}]}``; every key is
            an evaluated video, even with an empty list.
        predictions: ``{video: [{"label", "score", "segment"}]}`` (the
            ``results`` field of the official format), or the same as a
            columnar ``PredictionTable`` (``load_prediction_table``).
        tiou_thresholds: thresholds ``(T,)``.
        classes: scored class names; default the labels in ``ground_truth``.
            Ground truth of other labels is dropped, predictions ignored.
        blocked_videos: videos removed from ground truth and predictions.
        deduplicate_gt: count exact duplicate instances once.

    Returns:
        ``{"mAP": {"0.3": ap, ...}, "average": float, "per_class": {label:
        [ap per tIoU] or None}, "num_ignored_predictions": int, ...}``.
    """
    thr = [float(t) for t in tiou_thresholds]
    blocked = set(blocked_videos or ())
    gt = {v: a for v, a in ground_truth.items() if v not in blocked}
    if classes is None:
        classes = sorted({inst['label'] for insts in gt.values() for inst in insts})
    classes = list(classes)
    label_index = {c: i for i, c in enumerate(classes)}
    if len(label_index) != len(classes):
        raise ValueError('duplicate class names')
    video_index = {v: i for i, v in enumerate(gt)}
    g_vid, g_seg, g_lab, n_dup, n_zero = _flatten_gt(gt, label_index, video_index, deduplicate_gt)

    flatten = getattr(predictions, 'flatten', None)  # columnar input (annotations.PredictionTable)
    p_vid, p_lab, p_score, p_seg, ignored = (flatten(label_index, video_index, blocked) if flatten else
                                             _flatten_predictions(predictions, label_index, video_index, blocked))
    n_ignored = ignored['unknown_label'] + ignored['unknown_video']
    if n_ignored:
        warnings.warn(f'ignored {n_ignored} predictions (unscored label: {ignored["unknown_label"]}, '
                      f'video not evaluated: {ignored["unknown_video"]})', stacklevel=2)
    if n_dup:
        warnings.warn(f'{n_dup} duplicate ground-truth instances counted once', stacklevel=2)

    ap = average_precision_detection(
        np.asarray(g_vid, np.int64), np.asarray(g_seg, np.float64).reshape(-1, 2), p_vid, p_seg, p_score, thr,
        gt_labels=np.asarray(g_lab, np.int64), pred_labels=p_lab, num_classes=len(classes))
    has_gt = ~np.isnan(ap[:, 0]) if len(thr) else np.zeros(len(classes), bool)
    if has_gt.any():
        mean = ap[has_gt].mean(axis=0)
    else:
        warnings.warn('no ground-truth instance of any scored class: mAP is NaN', stacklevel=2)
        mean = np.full(len(thr), np.nan)
    return {
        'mAP': {tiou_key(t): float(v) for t, v in zip(thr, mean)},
        'average': float(mean.mean()) if len(thr) else float('nan'),
        'per_class': {c: ([float(x) for x in ap[i]] if has_gt[i] else None) for i, c in enumerate(classes)},
        'tiou_thresholds': thr,
        'num_ignored_predictions': n_ignored,
        'ignored_predictions': ignored,
        'num_videos': len(gt),
        'num_gt': len(g_lab),
        'num_predictions': int(len(p_lab)),
        'num_duplicate_gt': n_dup,
        'num_zero_length_gt': int(n_zero),
        'classes_without_gt': [c for i, c in enumerate(classes) if not has_gt[i]],
    }
