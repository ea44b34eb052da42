"""ZEETAD on one video's feature streams: windows -> model -> merged detections in seconds.

Windows, time bases, stream alignment and window merging are the dataset's and the test metric's own code
(:func:`enumerate_windows`, :func:`load_window_streams`, ``TADMetric.merge``), so a video run here is
processed exactly as in ``tools/test.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from zeetad.datasets.feature_store import FeatureStore
from zeetad.datasets.timebase import make_timebase
from zeetad.datasets.windows import enumerate_windows
from .errors import VideoTooShortError


@dataclass(frozen=True)
class VideoMeta:
    """A user's video: id (file stem), path, duration (s) and frame rate."""
    video_id: str
    path: str
    duration: float
    fps: float


@dataclass(frozen=True)
class StreamSpec:
    """Feature streams and windowing of the test set of a config, pointed at detect's feature files."""
    loc: dict
    clip: Optional[dict]
    window_size: Optional[int]
    window_overlap: float
    resize_length: Optional[int]


def video_windows(video: VideoMeta, spec: StreamSpec, length: int, allow_short: bool = False) -> list[dict]:
    """Window metadata (as ``TADDataset`` makes it) for a video with ``length`` localisation features.

    Raises:
        VideoTooShortError: fewer features than the model's window (unless ``allow_short``), or none.
    """
    tb = make_timebase(spec.loc['timebase'], video.fps, 'loc_features.timebase')
    if length < 1:
        raise VideoTooShortError(f'{video.path}: {video.duration:.2f} s is shorter than one feature step '
                                 f'({tb.step_s:.3g} s)')
    if spec.window_size and length < spec.window_size and not allow_short:
        raise VideoTooShortError(
            f'{video.path}: the video is {video.duration:.1f} s long ({length} feature steps of {tb.step_s:.3g} s), '
            f'shorter than the model\'s window of {spec.window_size} steps ({spec.window_size * tb.step_s:.1f} s). '
            'The model was trained on full windows, so detections on a shorter input are less reliable: pass '
            '--allow-short to run it as one shorter window, or use a config with a smaller window_size.')
    spans = [(0, length)] if spec.resize_length else enumerate_windows(length, spec.window_size, spec.window_overlap)
    base = dict(video_id=video.video_id, duration=float(video.duration), fps=float(video.fps), num_features=length,
                step_s=tb.step_s, offset_s=tb.offset_s)
    return [dict(base, window=(s, e), begin_s=tb.offset_s + (s - 0.5) * tb.step_s, span_s=(e - s) * tb.step_s)
            for s, e in spans]


def pack_window(info: dict, loc_store: FeatureStore, clip_store: Optional[FeatureStore], spec: StreamSpec,
                class_names: Sequence[str]) -> dict:
    """One window -> ``dict(inputs, data_samples)`` as the test dataloader yields it (no ground truth)."""
    from zeetad.datasets.streams import load_window_streams
    from zeetad.datasets.transforms.formatting import PackTADInputs
    loc, clip = load_window_streams(info, loc_store, clip_store, spec.clip, spec.resize_length)
    results = dict(info, loc_feats=loc, clip_feats=clip, classes=tuple(class_names),
                   gt_segments=np.zeros((0, 2), np.float32), gt_labels=np.zeros(0, np.int64))
    return PackTADInputs()(results)


@torch.no_grad()
def detect_windows(model, video: VideoMeta, spec: StreamSpec, class_names: Sequence[str], loc_store: FeatureStore,
                   clip_store: Optional[FeatureStore], *, allow_short: bool = False, batch_size: int = 8) -> list:
    """Raw per-window detections (``ZEETAD.predict``'s dicts) of one video, scored against ``class_names``."""
    from zeetad.datasets.collate import tad_collate
    length = len(loc_store.load(video.video_id))
    infos = video_windows(video, spec, length, allow_short)
    previous = model.test_cfg.get('class_names')
    model.test_cfg['class_names'] = list(class_names)  # open vocabulary: any names at test time
    try:
        outputs = []
        for i in range(0, len(infos), batch_size):
            batch = [pack_window(info, loc_store, clip_store, spec, class_names) for info in infos[i:i + batch_size]]
            outputs += model.test_step(tad_collate(batch))
    finally:
        model.test_cfg['class_names'] = previous
    return outputs


def build_merger(cfg):
    """The config's test metric (``TADMetric``), whose ``merge`` applies its Soft-NMS and caps."""
    from zeetad.registry import METRICS
    evaluator = cfg.get('test_evaluator') or dict(type='TADMetric')
    if isinstance(evaluator, (list, tuple)):
        evaluator = next((e for e in evaluator if 'TADMetric' in str(e.get('type', ''))), evaluator[0])
    evaluator = {k: v for k, v in dict(evaluator).items() if k not in ('out_file', 'result_dir')}
    return METRICS.build(evaluator)


def merge_video(merger, windows: list, duration: float) -> dict:
    """Merge one video's windows with the metric's settings -> ``{"segments", "scores", "labels"}`` arrays."""
    if not windows:
        return dict(segments=np.zeros((0, 2)), scores=np.zeros(0), labels=np.zeros(0, np.int64))
    vid = str(windows[0]['video_id'])
    merger.dataset_meta = dict(durations={vid: float(duration)})
    return merger.merge([dict(w, video_id=str(w['video_id'])) for w in windows])[vid]


@torch.no_grad()
def clip_similarity_curves(model, clip_store: FeatureStore, video_id: str, clip_cfg: dict,
                           class_names: Sequence[str]) -> dict:
    """Per-frame cosine between CLIP frame features and the model's class text embeddings.

    Returns:
        ``{class: (times (T,), cosine (T,))}`` on the CLIP stream's own time base.
    """
    feats = torch.as_tensor(np.asarray(clip_store.load(video_id), np.float32))
    feats = torch.nn.functional.normalize(feats, dim=-1)
    text = model.classifier.text_embeddings(list(class_names)).float().cpu()
    sims = (feats @ text.T).numpy()
    tb = make_timebase(clip_cfg['timebase'], None, 'clip_features.timebase')
    times = tb.index_to_seconds(np.arange(len(feats)))
    return {name: (times, sims[:, k]) for k, name in enumerate(class_names)}
