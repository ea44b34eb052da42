"""Straightforward loop implementations, the yardstick for tests and benchmarks.

Deliberately written the obvious way (one Python iteration per prediction /
per candidate, like the official evaluator and the classic CPU Soft-NMS), with
the same edge-case rules as the vectorised code. Not for production use.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np


def loop_tiou(a: Sequence[float], b: Sequence[float]) -> float:
    """tIoU of two segments; lengths clamped at 0, zero union gives 0."""
    inter = max(min(a[1], b[1]) - max(a[0], b[0]), 0.0)
    union = max(a[1] - a[0], 0.0) + max(b[1] - b[0], 0.0) - inter
    return inter / union if union > 0 else 0.0


def loop_interpolated_ap(prec: list, rec: list) -> float:
    """VOC2011 all-point interpolated AP (the official ``interpolated_prec_rec``)."""
    mprec = [0.0] + list(prec) + [0.0]
    mrec = [0.0] + list(rec) + [1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    return sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])


def loop_average_precision(gt: Sequence[tuple], preds: Sequence[tuple],
                           tiou_thresholds: Sequence[float]) -> list:
    """AP of one class.

    Ties as in the official evaluator: predictions ranked by
    ``scores.argsort()[::-1]`` (numpy's default sort, reversed), each visiting
    its video's instances in ``tious.argsort()[::-1]`` order and taking the
    first unmatched one that reaches the threshold.

    Args:
        gt: ``[(video, start, end)]``.
        preds: ``[(video, start, end, score)]``.
        tiou_thresholds: ``(T,)``.

    Returns:
        ``[ap per threshold]``; NaN when ``gt`` is empty.
    """
    if not gt:
        return [math.nan] * len(tiou_thresholds)
    by_video: dict = {}
    for j, (v, s, e) in enumerate(gt):
        by_video.setdefault(v, []).append(j)
    order = np.argsort(np.array([p[3] for p in preds], dtype=np.float64))[::-1]
    aps = []
    for thr in tiou_thresholds:
        locked = [False] * len(gt)
        tp = []
        for i in order:
            v, s, e, _ = preds[i]
            cands = by_video.get(v, [])
            ious = np.array([loop_tiou((s, e), gt[j][1:]) for j in cands], dtype=np.float64)
            best = -1
            for k in np.argsort(ious)[::-1]:
                if ious[k] < thr:
                    break
                if not locked[cands[k]]:
                    best = cands[k]
                    break
            if best >= 0:
                locked[best] = True
            tp.append(best >= 0)
        n_tp = n_fp = 0
        prec, rec = [], []
        for hit in tp:
            n_tp += hit
            n_fp += not hit
            prec.append(n_tp / (n_tp + n_fp))
            rec.append(n_tp / len(gt))
        aps.append(loop_interpolated_ap(prec, rec))
    return aps


def loop_evaluate_detections(ground_truth: Mapping[str, list], predictions: Mapping[str, list],
                             tiou_thresholds: Sequence[float], *, classes: Optional[Sequence[str]] = None,
                             blocked_videos: Sequence[str] = (), deduplicate_gt: bool = True) -> dict:
    """Loop version of :func:`zeetad.evaluation.evaluate_detections` (``mAP``,
    ``average``, ``per_class`` and ``num_ignored_predictions`` only)."""
    blocked = set(blocked_videos)
    videos = [v for v in ground_truth if v not in blocked]
    evaluated = set(videos)
    if classes is None:
        classes = sorted({a['label'] for v in videos for a in ground_truth[v]})
    scored = set(classes)
    per_class, preds_by_class = {}, {}
    n_ignored = 0
    for vid, preds in predictions.items():
        if vid in blocked:
            continue
        for p in preds:
            if vid not in evaluated or p['label'] not in scored:
                n_ignored += 1
                continue
            preds_by_class.setdefault(p['label'], []).append(
                (vid, float(p['segment'][0]), float(p['segment'][1]), float(p['score'])))
    for c in classes:
        gt, seen = [], set()
        for v in videos:
            for a in ground_truth[v]:
                key = (v, float(a['segment'][0]), float(a['segment'][1]))
                if a['label'] != c or (deduplicate_gt and key in seen):
                    continue
                seen.add(key)
                gt.append(key)
        per_class[c] = loop_average_precision(gt, preds_by_class.get(c, []), tiou_thresholds)
    valid = [ap for ap in per_class.values() if not math.isnan(ap[0])]
    mean = [sum(ap[t] for ap in valid) / len(valid) if valid else math.nan for t in range(len(tiou_thresholds))]
    return {'mAP': mean, 'average': sum(mean) / len(mean), 'num_ignored_predictions': n_ignored,
            'per_class': {c: (None if math.isnan(ap[0]) else ap) for c, ap in per_class.items()}}


def loop_soft_nms(segments, scores, labels, *, method: str = 'gaussian', sigma: float = 0.5,
                  iou_threshold: float = 0.1, min_score: float = 0.001, max_seg_num: int = 200,
                  multiclass: bool = True, voting_thresh: float = 0.0) -> tuple:
    """Per-segment Soft-NMS over all candidates of one video.

    Repeatedly keeps the highest-scoring remaining candidate (lowest index on
    ties) and decays the remaining ones (of its class when ``multiclass``).

    Returns:
        ``(segments (K, 2), scores (K,), labels (K,), kept_index (K,))`` numpy.
    """
    segs = [[float(s), float(e)] for s, e in np.asarray(segments, dtype=np.float64).reshape(-1, 2)]
    orig = [float(x) for x in np.asarray(scores, dtype=np.float64).reshape(-1)]
    labs = [int(x) for x in np.asarray(labels).reshape(-1)]
    cur = list(orig)
    remaining = [i for i in range(len(cur)) if cur[i] >= min_score]
    kept = []
    while remaining and len(kept) < max_seg_num:
        best = max(remaining, key=lambda i: (cur[i], -i))
        kept.append((best, cur[best]))
        survivors = []
        for j in remaining:
            if j == best:
                continue
            if multiclass and labs[j] != labs[best]:
                survivors.append(j)
                continue
            iou = loop_tiou(segs[best], segs[j])
            if method == 'gaussian':
                w = math.exp(-(iou * iou) / sigma)
            elif method == 'linear':
                w = 1.0 - iou if iou > iou_threshold else 1.0
            elif method == 'hard':
                w = 0.0 if iou > iou_threshold else 1.0
            else:
                raise ValueError(method)
            cur[j] *= w
            if cur[j] >= min_score:
                survivors.append(j)
        remaining = survivors
    out_segs = []
    for k, _ in kept:
        seg = segs[k]
        if voting_thresh > 0:
            num0 = num1 = den = 0.0
            for j in range(len(segs)):
                if (multiclass and labs[j] != labs[k]) or orig[j] < min_score:
                    continue
                iou = loop_tiou(segs[k], segs[j])
                if iou >= voting_thresh:
                    w = orig[j] * iou
                    num0 += w * segs[j][0]
                    num1 += w * segs[j][1]
                    den += w
            if den > 0:
                seg = [num0 / den, num1 / den]
        out_segs.append(seg)
    idx = np.array([k for k, _ in kept], dtype=np.int64)
    return (np.array(out_segs, dtype=np.float64).reshape(-1, 2), np.array([s for _, s in kept], dtype=np.float64),
            np.array([labs[k] for k, _ in kept], dtype=np.int64), idx)
