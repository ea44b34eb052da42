"""How well detections are named, for any list of typed names: right-name share, precision at a score, AUROC.

Inputs are official-format detections ``{video: [{"label", "score", "segment": [s, e]}]}`` and ground truth
``{video: [{"label", "segment"}]}`` (:func:`zeetad.evaluation.annotations.to_ground_truth`).
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

MATCH_TIOU = 0.5


def _tiou(segments: np.ndarray, segment: Sequence[float]) -> np.ndarray:
    """tIoU of ``segments (N, 2)`` with one ``segment``: ``(N,)``."""
    segments = np.asarray(segments, np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(segments[:, 1], segment[1]) - np.maximum(segments[:, 0], segment[0]), 0, None)
    union = (segments[:, 1] - segments[:, 0]) + (segment[1] - segment[0]) - inter
    return inter / np.maximum(union, 1e-9)


def _arrays(dets: list) -> tuple:
    if not dets:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=object)
    return (np.array([d['segment'] for d in dets], np.float64), np.array([d['score'] for d in dets], np.float64),
            np.array([d['label'] for d in dets], dtype=object))


def right_name_share(ground_truth: Mapping[str, list], detections: Mapping[str, list],
                     classes: Optional[Sequence[str]] = None, tiou: float = MATCH_TIOU) -> dict:
    """Of the instances (of ``classes``) that some detection covers at ``tiou``, the share whose best-scored
    covering detection carries the instance's name. -> ``{"share", "covered", "instances"}``."""
    right = covered = total = 0
    for vid, insts in ground_truth.items():
        seg, score, label = _arrays(detections.get(vid, []))
        for inst in insts:
            if classes is not None and inst['label'] not in classes:
                continue
            total += 1
            hit = _tiou(seg, inst['segment']) >= tiou
            if hit.any():
                covered += 1
                right += int(label[hit][np.argmax(score[hit])] == inst['label'])
    return dict(share=right / covered if covered else float('nan'), covered=covered, instances=total)


def precision_at(ground_truth: Mapping[str, list], detections: Mapping[str, list], score: float = 0.5,
                 tiou: float = MATCH_TIOU) -> dict:
    """Share of the detections scoring ``>= score`` that cover (``tiou``) an instance of their own name.
    -> ``{"precision", "detections"}`` (precision NaN when no detection reaches the score)."""
    good = n = 0
    for vid, dets in detections.items():
        insts = ground_truth.get(vid, [])
        for d in dets:
            if float(d['score']) < score:
                continue
            n += 1
            same = [i['segment'] for i in insts if i['label'] == d['label']]
            good += int(bool(same) and (_tiou(np.array(same), d['segment']) >= tiou).any())
    return dict(precision=good / n if n else float('nan'), detections=n)


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (ties count half); NaN without both classes."""
    s, y = np.asarray(scores, np.float64), np.asarray(positive, bool)
    pos, neg = s[y], s[~y]
    if not len(pos) or not len(neg):
        return float('nan')
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def presence_auroc(ground_truth: Mapping[str, list], detections_by_name: Mapping[str, Mapping[str, list]]) -> float:
    """Video-level "is this name present" from each video's top score for the name (0 without a detection), one
    ``detections_by_name[name]`` run per name, pooled over names and videos (one threshold for all names)."""
    scores, present = [], []
    for name, dets in detections_by_name.items():
        for vid, insts in ground_truth.items():
            scores.append(max((float(d['score']) for d in dets.get(vid, []) if d['label'] == name), default=0.0))
            present.append(any(i['label'] == name for i in insts))
    return auroc(scores, present)
