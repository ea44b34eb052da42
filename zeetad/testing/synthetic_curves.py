"""Synthetic ZEAL stage outputs drawn from ground truth: for benchmarks and for the synthetic dataset.

With no LVLM to run, start/end confidences are modelled as Gaussian bumps at
each ground-truth instance's start and end (on a low baseline) and actionness
as a raised box over each instance, plus Gaussian noise. ``noise`` is relative:
its standard deviation is ``noise`` times each curve's signal amplitude, so
``noise=1`` means the noise is as strong as the signal.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from zeetad.video.decode import sample_count  # the frames the decoder samples


@dataclass(frozen=True)
class CurveModel:
    """Shapes of the synthetic curves.

    Attributes:
        bump_width_s: standard deviation of the start/end bumps (seconds).
        base, peak: confidence baseline and bump height (P(yes) lies in [0, 1]; noisy values are clipped).
        act_outside, act_inside: actionness (a CLIP cosine) outside and inside an instance.
    """
    bump_width_s: float = 1.0
    base: float = 0.05
    peak: float = 0.9
    act_outside: float = 0.15
    act_inside: float = 0.3


def video_rng(seed: int, video_id: str) -> np.random.Generator:
    """A generator that depends on the seed and the video only (not on the order of videos)."""
    return np.random.default_rng([int(seed), zlib.crc32(video_id.encode('utf-8'))])


def synthetic_video_curves(duration_s: float, instances: Sequence[tuple[float, float, int]], num_classes: int,
                           fps: float, noise: float, rng: np.random.Generator,
                           model: CurveModel = CurveModel()) -> tuple[np.ndarray, np.ndarray]:
    """Confidences and actionness of one video.

    Args:
        duration_s: video length.
        instances: ``(start_s, end_s, class_index)`` ground truth.
        num_classes: C columns (classes without an instance get baseline plus noise only).
        fps: frame rate of the curves.
        noise: relative noise level (see the module docstring).
        rng: random source.

    Returns:
        ``confidences (T, C, 2)`` float32 in [0, 1] and ``actionness (C, T)`` float32.
    """
    t = np.arange(sample_count(duration_s, fps)) / fps
    start = np.zeros((len(t), num_classes))
    end = np.zeros((len(t), num_classes))
    inside = np.zeros((num_classes, len(t)))
    for s, e, c in instances:
        start[:, c] = np.maximum(start[:, c], np.exp(-0.5 * ((t - s) / model.bump_width_s) ** 2))
        end[:, c] = np.maximum(end[:, c], np.exp(-0.5 * ((t - e) / model.bump_width_s) ** 2))
        inside[c] = np.maximum(inside[c], ((t >= s) & (t <= e)).astype(np.float64))
    amp = model.peak - model.base
    conf = model.base + amp * np.stack([start, end], axis=-1)
    conf = np.clip(conf + noise * amp * rng.standard_normal(conf.shape), 0.0, 1.0)
    act_amp = model.act_inside - model.act_outside
    act = model.act_outside + act_amp * inside + noise * act_amp * rng.standard_normal(inside.shape)
    return conf.astype(np.float32), act.astype(np.float32)


def synthetic_dataset_curves(ground_truth: dict, classes: Sequence[str], durations: dict, fps: float = 1.0,
                             noise: float = 0.1, seed: int = 0,
                             model: CurveModel = CurveModel()) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Curves for every video of ``ground_truth`` (``{video: [{"label", "segment"}]}``, as
    ``TADDataset.metainfo['ground_truth']``); instances of labels outside ``classes`` are ignored.

    Returns:
        ``{video: (confidences (T, C, 2), actionness (C, T))}`` with columns in ``classes`` order.
    """
    index = {name: k for k, name in enumerate(classes)}
    out = {}
    for vid in sorted(ground_truth):
        inst = [(float(a['segment'][0]), float(a['segment'][1]), index[a['label']])
                for a in ground_truth[vid] if a['label'] in index]
        out[vid] = synthetic_video_curves(float(durations[vid]), inst, len(classes), fps, noise,
                                          video_rng(seed, vid), model)
    return out
