"""ZEAL stage 5b: Soft-NMS and near-duplicate merging of interval proposals, many curves at once.

A *curve* is one class in one video. Every curve is independent, so all curves
of a batch of videos share one padded, batched Soft-NMS (zeetad's
:func:`batched_soft_nms` with one group per curve), processed in chunks of
curves with similar proposal counts so little time goes to padding.
"""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

from zeetad.evaluation.soft_nms import batched_soft_nms
from .intervals import IntervalConfig, propose_intervals

Proposals = tuple[np.ndarray, np.ndarray]  # (segments (K, 2), scores (K,))


def _chunks(counts: np.ndarray, max_elements: int) -> list[list[int]]:
    """Curves (with proposals) grouped by ascending count so that curves x largest count <= max_elements."""
    chunks, current = [], []
    for i in np.argsort(counts, kind='stable').tolist():
        if counts[i] == 0:
            continue
        if current and (len(current) + 1) * counts[i] > max_elements:
            chunks.append(current)
            current = []
        current.append(i)
    return chunks + ([current] if current else [])


def soft_nms_curves(proposals: Sequence[Proposals], sigma: float, min_score: float,
                    max_elements: int = 16384) -> list[Proposals]:
    """Gaussian Soft-NMS within each curve.

    Args:
        proposals: per curve ``(segments (K, 2), scores (K,))``.
        sigma: Gaussian decay width; min_score: drop threshold on decayed scores.
        max_elements: bound on the padded ``curves x proposals`` block of one batched call.

    Returns:
        Per curve ``(segments (K', 2) float64, scores (K',) float64)`` by descending score.
    """
    out: list = [(np.zeros((0, 2)), np.zeros(0))] * len(proposals)
    counts = np.array([len(s) for s, _ in proposals], dtype=np.int64)
    for chunk in _chunks(counts, max_elements):
        kept_segs, kept_scores, kept_curve = _nms_block(proposals, counts, chunk, sigma, min_score)
        order = np.argsort(kept_curve, kind='stable')  # stable: each curve stays by descending score
        bounds = np.searchsorted(kept_curve[order], np.arange(len(chunk) + 1))
        for j, i in enumerate(chunk):
            sel = order[bounds[j]:bounds[j + 1]]
            out[i] = (kept_segs[sel], kept_scores[sel])
    return out


def _nms_block(proposals: Sequence[Proposals], counts: np.ndarray, chunk: list, sigma: float,
               min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batched Soft-NMS call over the curves ``chunk``: kept ``(segments, scores, position in chunk)``."""
    segs = torch.from_numpy(np.concatenate([np.asarray(proposals[i][0], np.float64) for i in chunk]))
    scores = torch.from_numpy(np.concatenate([np.asarray(proposals[i][1], np.float64) for i in chunk]))
    curve = torch.from_numpy(np.repeat(np.arange(len(chunk)), counts[chunk]))
    # batched_soft_nms runs single-threaded on CPU by itself (see soft_nms.one_cpu_thread).
    kept_segs, kept_scores, kept_curve = batched_soft_nms(
        segs, scores, curve, method='gaussian', sigma=sigma, min_score=min_score,
        max_seg_num=int(counts[chunk].sum()), multiclass=True)
    return kept_segs.numpy(), kept_scores.numpy(), kept_curve.numpy()


def merge_near_duplicates(segments: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.9,
                          min_score: float = 0.0) -> Proposals:
    """Merge intervals of one curve that almost coincide.

    Intervals are visited by start time (then end, then descending score);
    one whose tIoU with the last merged interval exceeds ``iou_threshold``
    is absorbed: the merged interval becomes the union and its score the mean
    of the two (a running pairwise mean, as in ZEAL). Merged intervals scoring
    below ``min_score`` are dropped.

    Returns:
        ``(segments (K, 2), scores (K,))`` by descending score.
    """
    segments = np.asarray(segments, np.float64).reshape(-1, 2)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(segments) == 0:
        return segments, scores
    order = np.lexsort((-scores, segments[:, 1], segments[:, 0]))
    merged: list = []
    # Plain floats: this short sequential chain is faster outside numpy.
    for (s, e), c in zip(segments[order].tolist(), scores[order].tolist()):
        if merged:
            ms, me, mc = merged[-1]
            inter = min(me, e) - max(ms, s)
            union = max(me, e) - min(ms, s)
            if inter > 0 and union > 0 and inter / union > iou_threshold:
                merged[-1] = [min(ms, s), max(me, e), 0.5 * (mc + c)]
                continue
        merged.append([s, e, c])
    arr = np.array(merged, dtype=np.float64)
    arr = arr[arr[:, 2] >= min_score]
    arr = arr[np.argsort(-arr[:, 2], kind='stable')]
    return arr[:, :2].reshape(-1, 2), arr[:, 2]


def localize_curves(curves: Sequence[np.ndarray], actionness: Sequence[np.ndarray],
                    cfg: Union[IntervalConfig, dict, None] = None,
                    skip_low_mean: Union[bool, Sequence[bool]] = True) -> list[Proposals]:
    """The whole interval stage for many curves (any mix of videos and classes).

    Args:
        curves: per curve ``(T, 2)`` raw start/end P(yes) (``T`` may differ between curves).
        actionness: per curve ``(T,)`` CLIP cosine with the class description.
        cfg: :class:`IntervalConfig` or its keyword dict.
        skip_low_mean: per curve (or for all) whether ``cfg.min_class_mean`` applies.

    Returns:
        Per curve ``(segments (K, 2) float64 frame indices, scores (K,) float64)``, by descending score.
    """
    if not isinstance(cfg, IntervalConfig):
        cfg = IntervalConfig.from_dict(cfg)
    if len(curves) != len(actionness):
        raise ValueError(f'{len(curves)} curves but {len(actionness)} actionness rows')
    if isinstance(skip_low_mean, (bool, np.bool_)):
        skip_low_mean = [bool(skip_low_mean)] * len(curves)
    raw = [propose_intervals(c, a, cfg, s) for c, a, s in zip(curves, actionness, skip_low_mean)]
    proposals = [(pairs.astype(np.float64), scores) for pairs, scores in raw]
    kept = soft_nms_curves(proposals, cfg.nms_sigma, cfg.nms_min_score, cfg.nms_block_elements)
    return [merge_near_duplicates(s, c, cfg.merge_iou, cfg.merge_min_score) for s, c in kept]


def localize_video(confidences: np.ndarray, actionness: np.ndarray, cfg: Union[IntervalConfig, dict, None] = None,
                   skip_low_mean: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interval stage of one video.

    Args:
        confidences: ``(T, C, 2)`` start/end P(yes) of C classes.
        actionness: ``(C, T)``.

    Returns:
        ``segments (K, 2)`` frame indices, ``scores (K,)``, ``classes (K,)`` int64 column indices into
        ``confidences``, by descending score.
    """
    confidences = np.asarray(confidences)
    if confidences.ndim != 3 or confidences.shape[2] != 2:
        raise ValueError(f'confidences must be (T, C, 2), got {confidences.shape}')
    results = localize_curves([confidences[:, c] for c in range(confidences.shape[1])], list(actionness), cfg,
                              skip_low_mean)
    return concat_curve_results(results)


def concat_curve_results(results: Sequence[Proposals]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-curve results -> one ``(segments, scores, curve index)`` list by descending score."""
    segs = np.concatenate([s for s, _ in results]) if results else np.zeros((0, 2))
    scores = np.concatenate([c for _, c in results]) if results else np.zeros(0)
    idx = np.concatenate([np.full(len(c), i, np.int64) for i, (_, c) in enumerate(results)]) if results \
        else np.zeros(0, np.int64)
    order = np.argsort(-scores, kind='stable')
    return segs[order].reshape(-1, 2), scores[order], idx[order]
