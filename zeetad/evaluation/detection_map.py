"""ActivityNet-style detection mAP, vectorised.

Semantics follow the official ``Evaluation/eval_detection.py``: per class,
predictions by descending score (ties keep their input order: stable sort), each
matched to the unmatched same-video instance of highest tIoU (first instance on
ties) if that tIoU >= threshold; AP is the VOC2011 all-point interpolated area
under precision/recall; mAP the mean over classes that have ground truth.

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
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from .matching import greedy_match

THUMOS14_TIOUS = (0.3, 0.4, 0.5, 0.6, 0.7)
# Exactly the official evaluator's grid (``0.8999999999999999``, not 0.9): a
# tIoU of exactly 0.9 is a match there, and must be here too.
ACTIVITYNET_TIOUS = tuple(float(x) for x in np.linspace(0.5, 0.95, 10))


def tiou_key(t: float) -> str:
    """Stable string key of a threshold, e.g. ``0.6000000000000001 -> '0.6'``."""
    return format(round(float(t), 6), 'g')


def _interpolated_ap(tp: np.ndarray, npos: int) -> np.ndarray:
    """VOC2011 all-point interpolated AP for each row of ``tp`` ``(T, n)``."""
    tp_cum = np.cumsum(tp, axis=1, dtype=np.float64)
    fp_cum = np.cumsum(~tp, axis=1, dtype=np.float64)
    rec = tp_cum / npos
    prec = tp_cum / (tp_cum + fp_cum)
    zeros = np.zeros((tp.shape[0], 1))
    mprec = np.hstack([zeros, prec, zeros])
    mrec = np.hstack([zeros, rec, np.ones_like(zeros)])
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    ap = np.empty(tp.shape[0])
    for t in range(tp.shape[0]):
        # Same expression as the official code, for bit-level agreement.
        idx = np.flatnonzero(mrec[t, 1:] != mrec[t, :-1]) + 1
        ap[t] = np.sum((mrec[t, idx] - mrec[t, idx - 1]) * mprec[t, idx])
    return ap


def _as_int_ids(*arrays: np.ndarray) -> list[np.ndarray]:
    """Map arbitrary ids (e.g. video names) to shared dense ints."""
    if all(np.issubdtype(np.asarray(a).dtype, np.integer) for a in arrays):
        return [np.asarray(a, dtype=np.int64) for a in arrays]
    _, inv = np.unique(np.concatenate([np.asarray(a) for a in arrays]), return_inverse=True)
    splits = np.cumsum([len(a) for a in arrays])[:-1]
    return np.split(inv.astype(np.int64), splits)


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
        pred_scores: ``(N,)``; ties keep input order.
        tiou_thresholds: ``(T,)``.
        gt_labels, pred_labels: ``(M,)`` / ``(N,)`` int class indices in
            ``[0, num_classes)``; omit both for a single class.
        num_classes: number of classes (default: max label + 1).

    Returns:
        ``(C, T)`` AP, or ``(T,)`` when labels are omitted. Classes without
        ground truth get NaN; with ground truth but no predictions, 0.
    """
    thr = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
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
    if gl.min(initial=0) < 0 or pl.min(initial=0) < 0 or max(gl.max(initial=0), pl.max(initial=0)) >= num_classes:
        raise ValueError(f'labels must lie in [0, {num_classes})')
    if not (np.isfinite(pred_scores).all() and np.isfinite(pred_segments).all()
            and np.isfinite(gt_segments).all()):
        raise ValueError('segments and scores must be finite')
    gv, pv = _as_int_ids(np.asarray(gt_videos).reshape(-1), np.asarray(pred_videos).reshape(-1))
    n_vid = int(max(gv.max(initial=-1), pv.max(initial=-1))) + 1

    # Ties in score keep the input order: one stable float sort, then the
    # orders we need are argsorts of unique int keys (much faster than lexsort).
    n = len(pred_scores)
    by_score = np.argsort(-pred_scores, kind='stable')
    score_rank = np.empty(n, np.int64)
    score_rank[by_score] = np.arange(n)
    # Walk order: by (class, video), then descending score.
    pred_group = pl * n_vid + pv
    if num_classes * n_vid * max(n, 1) >= 2**62:
        raise ValueError('too many classes x videos x predictions for int64 sort keys')
    walk = np.argsort(pred_group * n + score_rank)
    gorder = np.argsort(gl * n_vid + gv, kind='stable')
    tp_walk = greedy_match(pred_group[walk], pred_segments[walk],
                           (gl * n_vid + gv)[gorder], gt_segments[gorder], thr)
    # Ranking order for AP: by class, then descending score.
    rank = np.argsort(pl * n + score_rank)
    where_in_walk = np.empty(n, np.int64)
    where_in_walk[walk] = np.arange(n)
    tp = tp_walk[:, where_in_walk[rank]]

    npos = np.bincount(gl, minlength=num_classes)
    bounds = np.searchsorted(pl[rank], np.arange(num_classes + 1))
    ap = np.full((num_classes, len(thr)), np.nan)
    for c in range(num_classes):
        if npos[c] == 0:
            continue
        s, e = bounds[c], bounds[c + 1]
        ap[c] = _interpolated_ap(tp[:, s:e], int(npos[c])) if e > s else 0.0
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
            ``results`` field of the official format).
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

    p_vid, p_lab, p_score, p_seg = [], [], [], []
    ignored = {'unknown_label': 0, 'unknown_video': 0, 'blocked_video': 0}
    for name, preds in predictions.items():
        if name in blocked:
            ignored['blocked_video'] += len(preds)
            continue
        vid = video_index.get(name)
        if vid is None:
            ignored['unknown_video'] += len(preds)
            continue
        for p in preds:
            c = label_index.get(p['label'])
            if c is None:
                ignored['unknown_label'] += 1
                continue
            p_vid.append(vid)
            p_lab.append(c)
            p_score.append(p['score'])
            p_seg.append(p['segment'])
    n_ignored = ignored['unknown_label'] + ignored['unknown_video']
    if n_ignored:
        warnings.warn(f'ignored {n_ignored} predictions (unscored label: {ignored["unknown_label"]}, '
                      f'video not evaluated: {ignored["unknown_video"]})', stacklevel=2)
    if n_dup:
        warnings.warn(f'{n_dup} duplicate ground-truth instances counted once', stacklevel=2)

    ap = average_precision_detection(
        np.asarray(g_vid, np.int64), np.asarray(g_seg, np.float64).reshape(-1, 2),
        np.asarray(p_vid, np.int64), np.asarray(p_seg, np.float64).reshape(-1, 2),
        np.asarray(p_score, np.float64), thr, gt_labels=np.asarray(g_lab, np.int64),
        pred_labels=np.asarray(p_lab, np.int64), num_classes=len(classes))
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
        'num_predictions': len(p_lab),
        'num_duplicate_gt': n_dup,
        'num_zero_length_gt': int(n_zero),
        'classes_without_gt': [c for i, c in enumerate(classes) if not has_gt[i]],
    }
