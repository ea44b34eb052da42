"""Per-video post-processing: merge sliding-window detections into one list."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from .soft_nms import soft_nms_per_video

_NMS_KEYS = ('method', 'sigma', 'iou_threshold', 'min_score', 'max_seg_num', 'multiclass', 'voting_thresh')


def _to_numpy(x, dtype) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def merge_window_detections(
    windows: Sequence[Mapping],
    nms_cfg: Optional[Mapping] = None,
    *,
    pre_nms_topk: Optional[int] = 2000,
    min_duration: float = 0.0,
    duration: Optional[float] = None,
    max_per_video: Optional[int] = None,
    device: str = 'cpu',
    video_id: str = '',
) -> dict:
    """Merge the raw detections of all windows of ONE video.

    Steps: concatenate; clip to ``[0, duration]``; drop segments not longer
    than ``min_duration``; keep the ``pre_nms_topk`` best; Soft-NMS; keep at
    most ``max_per_video``. Candidates are first put in a canonical order (by
    descending score, then start, end, label), so the result does not depend
    on the order or partitioning of the windows.

    Args:
        windows: dicts with ``segments (K, 2)`` seconds in video time,
            ``scores (K,)`` and ``labels (K,)`` int (numpy or torch), and
            optionally ``label_names`` (label ``k`` means ``label_names[k]``).
        video_id: named in errors.
        nms_cfg: Soft-NMS options (fields of :class:`.soft_nms.SoftNMSParams`); ``None`` or
            ``{}`` for its defaults. ``dict(method=None)`` skips NMS.
        pre_nms_topk: candidates kept before NMS (``None``: all).
        min_duration: segments must be strictly longer (seconds), after
            clipping; the default drops zero-length ones.
        duration: video length in seconds for clipping (``None``: only
            clip at 0).
        max_per_video: final cap (``None``: only the NMS ``max_seg_num``).
        device: where NMS runs.

    Returns:
        ``{"segments": (K, 2) float64, "scores": (K,) float64, "labels": (K,)
        int64}`` numpy, by descending score, plus ``label_names`` (the names
        the labels index) when the windows carry them.
    """
    return merge_video_detections({video_id: windows}, nms_cfg, pre_nms_topk=pre_nms_topk,
                                  min_duration=min_duration, durations={video_id: duration},
                                  max_per_video=max_per_video, device=device)[video_id]


def merge_video_detections(
    windows_by_video: Mapping[str, Sequence[Mapping]],
    nms_cfg: Optional[Mapping] = None,
    *,
    pre_nms_topk: Optional[int] = 2000,
    min_duration: float = 0.0,
    durations: Optional[Mapping[str, Optional[float]]] = None,
    max_per_video: Optional[int] = None,
    device: str = 'cpu',
    videos_per_call: int = 64,
    video_context_power: float = 0.0,
) -> dict:
    """:func:`merge_window_detections` for many videos, with the Soft-NMS of
    ``videos_per_call`` videos run in one batched call (same results, several
    times faster than one call per video).

    Args:
        windows_by_video: ``{video: [window dicts]}``.
        durations: ``{video: seconds}`` for clipping (missing: only clip at 0).
        videos_per_call: videos per Soft-NMS call (memory grows with it).
        video_context_power: ``p > 0`` rescales each candidate by its class's share of the video's evidence,
            :func:`video_class_context` (before top-k and NMS); 0 (default): off.
        Others: see :func:`merge_window_detections`.

    Returns:
        ``{video: merged arrays}`` in the order of ``windows_by_video``.
    """
    cfg = dict(nms_cfg or {})
    unknown = set(cfg) - set(_NMS_KEYS)
    if unknown:
        raise KeyError(f'unknown NMS options {sorted(unknown)}')
    durations = durations or {}
    prepared, label_names = {}, {}
    for vid, wins in windows_by_video.items():
        segs, scores, labels, label_names[vid] = _prepare(vid, wins, pre_nms_topk, min_duration, durations.get(vid),
                                                          video_context_power)
        prepared[vid] = (segs, scores, labels)
    if cfg.get('method', 'gaussian') is not None:
        names = [vid for vid, (segs, _, _) in prepared.items() if len(segs)]
        for i in range(0, len(names), videos_per_call):
            chunk = names[i:i + videos_per_call]
            prepared.update(_soft_nms_videos({v: prepared[v] for v in chunk}, cfg, device))
    out = {}
    for vid, (segs, scores, labels) in prepared.items():
        if max_per_video is not None:
            segs, scores, labels = segs[:max_per_video], scores[:max_per_video], labels[:max_per_video]
        out[vid] = {'segments': segs.astype(np.float64), 'scores': scores.astype(np.float64),
                    'labels': labels.astype(np.int64)}
        if label_names[vid] is not None:
            out[vid]['label_names'] = label_names[vid]
    return out


def video_class_context(scores: np.ndarray, labels: np.ndarray, power: float) -> np.ndarray:
    """Video-level class context: ``score * (E[label] / max_k E[k]) ** power`` with ``E[k]`` the summed score
    of the video's candidates of class ``k``. The video's best-supported class keeps its scores; classes with
    little evidence anywhere in the video are pushed below other videos' detections of that class.

    Args:
        scores: ``(N,)`` candidate scores of ONE video (all its windows).
        labels: ``(N,)`` their class indices.
        power: exponent ``p >= 0`` (0: scores unchanged).
    """
    if power < 0:
        raise ValueError(f'video_context_power must be >= 0, got {power!r}')
    if power == 0 or len(scores) == 0:
        return scores
    evidence = np.bincount(labels, weights=scores, minlength=int(labels.max()) + 1)
    top = evidence.max()
    if top <= 0:
        return scores
    return scores * (evidence[labels] / top) ** power


def _prepare(video: str, windows: Sequence[Mapping], pre_nms_topk: Optional[int], min_duration: float,
             duration: Optional[float], video_context_power: float = 0.0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Optional[tuple]]:
    """Concatenate, check, clip, filter and top-k one video's candidates in
    canonical order; labels re-indexed into the video's one ``label_names`` list (``None`` without names)."""
    segs = [_to_numpy(w['segments'], np.float64).reshape(-1, 2) for w in windows]
    scores = [_to_numpy(w['scores'], np.float64).reshape(-1) for w in windows]
    labels = [_to_numpy(w['labels'], np.int64).reshape(-1) for w in windows]
    labels, label_names = _unify_label_names(windows, labels, video)
    segs = np.concatenate(segs) if segs else np.zeros((0, 2))
    scores = np.concatenate(scores) if scores else np.zeros(0)
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    where = f' (video {video!r})' if video else ''
    if not (len(segs) == len(scores) == len(labels)):
        raise ValueError(f'segments, scores and labels differ in length{where}')
    if not (np.isfinite(segs).all() and np.isfinite(scores).all()):
        raise ValueError(f'non-finite segments or scores{where}')
    scores = video_class_context(scores, labels, video_context_power)
    segs = np.maximum(segs, 0.0)
    if duration is not None:
        segs = np.minimum(segs, float(duration))
    order = np.lexsort((labels, segs[:, 1], segs[:, 0], -scores))
    order = order[(segs[order, 1] - segs[order, 0]) > min_duration]
    if pre_nms_topk is not None:
        order = order[:pre_nms_topk]
    return segs[order], scores[order], labels[order], label_names


def _soft_nms_videos(prepared: Mapping[str, tuple], cfg: dict, device: str) -> dict:
    """One :func:`soft_nms_per_video` call over ``{video: (segs, scores,
    labels)}`` (each non-empty); returns the same mapping after NMS."""
    names = list(prepared)
    counts = [len(prepared[v][0]) for v in names]
    cat = [torch.from_numpy(np.concatenate([prepared[v][i] for v in names])).to(device) for i in range(3)]
    video = torch.repeat_interleave(torch.arange(len(names)), torch.tensor(counts)).to(device)
    segs, scores, labels, kept_video = (x.cpu().numpy() for x in soft_nms_per_video(*cat, video, **cfg))
    bounds = np.searchsorted(kept_video, np.arange(len(names) + 1))
    return {v: (segs[a:b], scores[a:b], labels[a:b]) for v, a, b in zip(names, bounds[:-1], bounds[1:])}


def _unify_label_names(windows: Sequence[Mapping], labels: list, video_id: str) -> tuple:
    """Re-index labels of windows that carry ``label_names`` into one name list (first appearance order), so
    windows scored against different lists still merge per class. ``(labels, None)`` when none carry names."""
    named = [w.get('label_names') for w in windows]
    if all(n is None for n in named):
        return labels, None
    if any(n is None for n in named):
        raise ValueError(f'video {video_id!r}: some windows carry label_names and some do not')
    vocab: dict = {}
    out = []
    for names, lab in zip(named, labels):
        _check_labels(lab, len(names), video_id)
        index = np.array([vocab.setdefault(str(n), len(vocab)) for n in names], np.int64)
        out.append(index[lab])
    return out, tuple(vocab)


def _check_labels(labels: np.ndarray, num_names: int, video_id: str) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() >= num_names):
        raise ValueError(f'video {video_id!r}: predicted label {int(labels.max())} (or {int(labels.min())}) '
                         f'does not index the {num_names} class names it was scored against')


def to_official_results(detections: Mapping[str, Mapping], classes: Optional[Sequence[str]] = None) -> dict:
    """``{video: merged arrays}`` -> ``{video: [{"label", "score", "segment"}]}``.

    The one label -> name mapping of zeetad (tools/test.py's metric and the APIs): a video's own
    ``label_names`` (the names its detections were scored against), else ``classes``.
    """
    results = {}
    for vid in sorted(detections):
        det = detections[vid]
        names = det.get('label_names', classes)
        if names is None:
            raise ValueError(f'video {vid!r}: detections carry no label_names and no classes were given')
        _check_labels(np.asarray(det['labels']), len(names), vid)
        results[vid] = [{'label': names[int(c)], 'score': float(s), 'segment': [float(a), float(b)]}
                        for (a, b), s, c in zip(det['segments'], det['scores'], det['labels'])]
    return results


def official_predictions(results: dict, version: str = 'zeetad', external_data: Optional[dict] = None) -> dict:
    """Wrap results in the official submission format."""
    return {'version': version, 'results': results,
            'external_data': external_data or {'used': False, 'details': ''}}
