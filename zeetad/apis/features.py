"""CLIP frame features of users' videos, extracted once with zeetad's own extractor and cached.

The cache is one HDF5 file per CLIP model and sampling rate (the extractor's format, read back by
``HDF5FeatureStore``), named after a hash of the settings, so changing the model or fps starts a new file
and a second run over the same videos re-encodes nothing. Inside it a video is stored under its
:func:`source_key` (file stem plus a hash of the resolved path, size and modification time), not its stem
alone: ``a/x.mp4`` and ``b/x.mp4``, or ``x.mp4`` replaced by another video, never share features.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

from zeetad.datasets.feature_store import FeatureStore
from zeetad.video.sources import VideoSource


def source_key(video_id: str, path: str) -> str:
    """Cache key of a video file: ``<id>-<hash of its resolved path, size and modification time>``."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        stamp = [st.st_size, st.st_mtime_ns]
    except OSError:  # unreadable: extraction reports it under the video's id
        stamp = None
    return f'{video_id}-{hashlib.sha1(json.dumps([real, stamp]).encode()).hexdigest()[:12]}'


class SourceKeyedStore(FeatureStore):
    """A cache store read by video id: ``load('x')`` reads the dataset ``source_key('x', path of x)``."""

    def __init__(self, store: FeatureStore, videos: Sequence):
        self.store = store
        self.keys = {v.video_id: source_key(v.video_id, v.path) for v in videos}

    def load(self, video_id: str, start: Optional[int] = None, stop: Optional[int] = None):
        return self.store.load(self.keys[video_id], start, stop)

    def shape(self, video_id: str) -> tuple:
        return self.store.shape(self.keys[video_id])

    def has(self, video_id: str) -> bool:
        return video_id in self.keys and self.store.has(self.keys[video_id])

    def path_of(self, video_id: str) -> str:
        return self.store.path_of(self.keys.get(video_id, video_id))

    def attrs(self) -> dict:
        return self.store.attrs()


@dataclass(frozen=True)
class ClipSpec:
    """Which open_clip image tower and sampling rate make the features."""
    model_name: Optional[str]
    pretrained: Optional[str]
    model_config_file: Optional[str] = None
    cache_dir: Optional[str] = None
    fps: float = 1.0

    @classmethod
    def from_text_encoder(cls, te_cfg: dict, fps: float) -> 'ClipSpec':
        """The image tower of the CLIP whose text tower ``te_cfg`` (a ``CLIPTextEncoder`` config) uses."""
        return cls(te_cfg.get('model_name'), te_cfg.get('pretrained'), te_cfg.get('model_config_file'),
                   te_cfg.get('cache_dir'), float(fps))

    def fingerprint(self) -> str:
        """Short hash of everything that changes the features (local weight files by path, size and time)."""
        info = asdict(self)
        info.pop('cache_dir')
        for key in ('pretrained', 'model_config_file'):
            path = info[key]
            if path and os.path.isfile(path):
                st = os.stat(path)
                info[key] = [os.path.abspath(path), st.st_size, int(st.st_mtime)]
        return hashlib.sha1(json.dumps(info, sort_keys=True).encode()).hexdigest()[:10]

    def cache_file(self, cache_dir: str) -> str:
        name = self.model_name or os.path.splitext(os.path.basename(self.model_config_file or 'clip'))[0]
        name = re.sub(r'[^A-Za-z0-9_.-]+', '_', name)
        return os.path.join(cache_dir, f'clip_{name}_{self.fps:g}fps_{self.fingerprint()}.h5')


def extract_clip_cached(videos: Sequence[VideoSource], cache_dir: str, spec: ClipSpec, *, device: str = 'cpu',
                        batch_size: int = 64, num_workers: int = 0, progress: bool = True):
    """Extract the features of ``videos`` not yet in the cache.

    Returns:
        ``(h5 path, ExtractReport | None)``; the report (``None`` when everything was cached) lists
        failed videos (by id) with their reasons in ``failed``. Read the file through
        :class:`SourceKeyedStore`: its datasets are named by :func:`source_key`.
    """
    from zeetad.video.feature_file import complete_ids
    path = spec.cache_file(cache_dir)
    done = complete_ids(path) if os.path.isfile(path) else set()
    ids = {source_key(v.video_id, v.path): v.video_id for v in videos}
    todo = [VideoSource(key, v.path) for key, v in zip(ids, videos) if key not in done]
    if not todo:
        return path, None
    from zeetad.video.clip_image import ClipImageEncoder
    from zeetad.video.extract import extract_features
    os.makedirs(cache_dir, exist_ok=True)
    encoder = ClipImageEncoder(spec.model_name, spec.pretrained, spec.model_config_file, spec.cache_dir,
                               normalize=True).to_device(device)
    report = extract_features(todo, path, encoder, fps=spec.fps, batch_size=batch_size, num_workers=num_workers,
                              dtype='float32', progress=progress, desc='CLIP features')
    if report.interrupted:
        raise KeyboardInterrupt
    report.failed = {ids.get(key, key): reason for key, reason in report.failed.items()}
    report.done = [ids.get(key, key) for key in report.done]
    return path, report
