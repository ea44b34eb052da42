"""Precision-recall curves per class and tIoU, under exactly the matching rules of the mAP evaluation.

``zeetad.evaluation`` returns AP numbers only; the curves are rebuilt here from its public greedy matcher
(:func:`zeetad.evaluation.matching.greedy_match`), with the same ranking (:func:`zeetad.evaluation.ranking.official_rank`), the same ground-truth de-duplication and the same videos and classes, so the VOC-interpolated area
under each curve equals the evaluator's AP (tested).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence

import numpy as np

from zeetad.evaluation.detection_map import THUMOS14_TIOUS, tiou_key
from zeetad.evaluation.matching import greedy_match
from zeetad.evaluation.ranking import official_rank


def _flatten(ground_truth: Mapping[str, list], predictions: Mapping[str, list], classes: Sequence[str]):
    label_index = {c: i for i, c in enumerate(classes)}
    video_index = {v: i for i, v in enumerate(ground_truth)}
    gt, seen = [], set()
    for name, instances in ground_truth.items():
        for a in instances:
            c = label_index.get(a['label'])
            key = (video_index[name], c, float(a['segment'][0]), float(a['segment'][1]))
            if c is not None and key not in seen:  # exact duplicates count once, as in the evaluator
                seen.add(key)
                gt.append(key)
    preds = [(video_index[name], label_index[p['label']], float(p['score']), float(p['segment'][0]),
              float(p['segment'][1]))
             for name, items in predictions.items() if name in video_index
             for p in items if p['label'] in label_index]
    gt = np.asarray(gt, np.float64).reshape(-1, 4)
    preds = np.asarray(preds, np.float64).reshape(-1, 5)
    return gt, preds, len(video_index)


def precision_recall(ground_truth: Mapping[str, list], predictions: Mapping[str, list],
                     tiou_thresholds: Iterable[float] = THUMOS14_TIOUS,
                     classes: Optional[Sequence[str]] = None) -> dict:
    """Precision and recall after each ranked prediction, per tIoU and class.

    Args:
        ground_truth: ``{video: [{"label", "segment"}]}``; every key is an evaluated video.
        predictions: ``{video: [{"label", "score", "segment"}]}`` (other videos and labels are ignored).
        tiou_thresholds: ``(T,)`` thresholds.
        classes: scored classes (default: the labels in ``ground_truth``).

    Returns:
        ``{"tiou_thresholds": [...], "classes": [...], "num_gt": {class: n},
        "curves": {tiou_key: {class: {"precision" (N_c,), "recall" (N_c,), "scores" (N_c,)}}}}``
        with ``N_c`` the class's predictions by descending score.
    """
    thr = np.asarray([float(t) for t in tiou_thresholds], np.float64)
    if classes is None:
        classes = sorted({a['label'] for items in ground_truth.values() for a in items})
    classes = list(classes)
    gt, preds, n_vid = _flatten(ground_truth, predictions, classes)
    n = len(preds)
    rank = official_rank(preds[:, 1].astype(np.int64), preds[:, 2], len(classes))
    # The matcher walks (class, video) groups, each by descending score.
    walk = rank[np.argsort(preds[rank, 1] * n_vid + preds[rank, 0], kind='stable')]
    gt_group = gt[:, 1] * n_vid + gt[:, 0]
    g_order = np.argsort(gt_group, kind='stable')
    tp_flat = greedy_match((preds[walk, 1] * n_vid + preds[walk, 0]).astype(np.int64), preds[walk][:, 3:5],
                           gt_group[g_order].astype(np.int64), gt[g_order][:, 2:4], thr)
    is_tp = np.zeros((len(thr), n), bool)
    t_idx, w_idx = np.divmod(tp_flat, max(n, 1))
    is_tp[t_idx, walk[w_idx]] = True
    npos = np.bincount(gt[:, 1].astype(np.int64), minlength=len(classes))
    labels = preds[rank, 1].astype(np.int64)
    out = {}
    for t_i, t in enumerate(thr):
        per_class = {}
        for c, name in enumerate(classes):
            order = rank[labels == c]
            tp = np.cumsum(is_tp[t_i, order])
            per_class[name] = dict(precision=tp / np.arange(1, len(order) + 1, dtype=np.float64),
                                   recall=tp / npos[c] if npos[c] else np.zeros(len(order)),
                                   scores=preds[order, 2])
        out[tiou_key(t)] = per_class
    return dict(tiou_thresholds=[float(t) for t in thr], classes=classes,
                num_gt={name: int(npos[c]) for c, name in enumerate(classes)}, curves=out)


def mean_precision_curve(pr: dict, recall_levels: int = 101) -> dict:
    """Class-mean interpolated precision on a recall grid, per tIoU (the curve whose area is ~mAP).

    At recall ``r`` a class contributes its best precision at any recall ``>= r`` (0 beyond its maximum
    recall); classes without ground truth are left out, as in mAP.

    Returns:
        ``{"recall": (R,), "precision": {tiou_key: (R,)}}``.
    """
    grid = np.linspace(0.0, 1.0, recall_levels)
    scored = [c for c in pr['classes'] if pr['num_gt'][c] > 0]
    curves = {}
    for key, per_class in pr['curves'].items():
        rows = []
        for c in scored:
            prec, rec = per_class[c]['precision'], per_class[c]['recall']
            env = np.maximum.accumulate(prec[::-1])[::-1] if len(prec) else prec
            pos = np.searchsorted(rec, grid, side='left')  # first ranked prediction reaching recall r
            rows.append(np.where(pos < len(env), env[np.minimum(pos, max(len(env) - 1, 0))], 0.0)
                        if len(env) else np.zeros_like(grid))
        curves[key] = np.mean(rows, axis=0) if rows else np.full_like(grid, np.nan)
    return dict(recall=grid, precision=curves)
