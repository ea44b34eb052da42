"""Evaluating ZEAL's interval stage on synthetic curves over real annotations (no LVLM, no video).

Used by ``benchmarks/benchmark_zeal.py`` and the tests: draw ground-truth-shaped curves at a noise level
(:mod:`.synthetic_curves`), pick each video's classes, run the interval stage on every curve of the
dataset in one call, and score with zeetad's ActivityNet-style mAP.
"""
from __future__ import annotations

import time
from typing import Optional, Sequence

import numpy as np

from zeetad.evaluation.detection_map import THUMOS14_TIOUS, evaluate_detections
from zeetad.zeal.clip_scores import key_frame_indices
from zeetad.zeal.interval_nms import localize_curves
from zeetad.zeal.intervals import IntervalConfig

from .synthetic_curves import CurveModel, synthetic_dataset_curves


def pick_classes(actionness: np.ndarray, top_k: int, num_key_frames: int = 8) -> list[int]:
    """Synthetic stand-in for the CLIP class filter: rank classes by their mean actionness over
    ``num_key_frames`` evenly spaced frames of ``actionness (C, T)``; best ``top_k`` first."""
    idx = key_frame_indices(actionness.shape[1], num_key_frames)
    return np.argsort(-actionness[:, idx].mean(axis=1), kind='stable')[:top_k].tolist()


def evaluate_synthetic(ground_truth: dict, classes: Sequence[str], durations: dict, noise: float,
                       class_filter: str = 'labels', top_k: int = 3, fps: float = 1.0, seed: int = 0,
                       intervals: Optional[dict] = None, tious: Sequence[float] = THUMOS14_TIOUS,
                       model: CurveModel = CurveModel()) -> dict:
    """mAP of the interval stage on synthetic curves.

    Args:
        ground_truth: ``{video: [{"label", "segment"}]}`` of the scored ``classes``.
        classes: scored class names (curve columns).
        durations: ``{video: seconds}``.
        noise: relative noise of every curve.
        class_filter: ``'labels'`` (the video's ground-truth classes, ZEAL's oracle variant; the low-mean
            skip is then off, as in ZEAL) or ``'top_k'`` (:func:`pick_classes`).
        intervals: :class:`IntervalConfig` keywords.

    Returns:
        ``{"mAP": {tiou: AP}, "average": avg mAP, "seconds": interval-stage time, "num_curves": ...,
        "num_detections": ...}`` (mAP as fractions).
    """
    cfg = IntervalConfig.from_dict(intervals)
    curves = synthetic_dataset_curves(ground_truth, classes, durations, fps=fps, noise=noise, seed=seed, model=model)
    index = {name: k for k, name in enumerate(classes)}
    rows, acts, owners = [], [], []
    for vid, (conf, act) in curves.items():
        if class_filter == 'labels':
            kept = sorted({index[a['label']] for a in ground_truth[vid] if a['label'] in index})
        elif class_filter == 'top_k':
            kept = pick_classes(act, top_k)
        else:
            raise ValueError(f'class_filter must be "labels" or "top_k", got {class_filter!r}')
        for k in kept:
            rows.append(conf[:, k])
            acts.append(act[k])
            owners.append((vid, k))
    tic = time.perf_counter()
    results = localize_curves(rows, acts, cfg, skip_low_mean=class_filter != 'labels')
    seconds = time.perf_counter() - tic
    preds: dict = {vid: [] for vid in ground_truth}
    for (segs, scores), (vid, k) in zip(results, owners):
        for (s, e), c in zip((segs / fps).tolist(), scores.tolist()):
            preds[vid].append({'label': classes[k], 'segment': [s, e], 'score': c})
    result = evaluate_detections(ground_truth, preds, tious, classes=list(classes))
    return {'mAP': result['mAP'], 'average': result['average'], 'seconds': seconds, 'num_curves': len(rows),
            'num_detections': sum(len(v) for v in preds.values())}
