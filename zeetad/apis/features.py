"""CLIP frame features of users' videos, extracted once with zeetad's own extractor and cached.

The cache is one HDF5 file per CLIP model and sampling rate (the extractor's format, read back by
``HDF5FeatureStore``), named after a hash of the settings, so changing the model or fps starts a new file
and a second run over the same videos re-encodes nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

from zeetad.video.sources import VideoSource


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
        failed videos with their reasons in ``failed``.
    """
    from zeetad.video.feature_file import complete_ids
    path = spec.cache_file(cache_dir)
    done = complete_ids(path) if os.path.isfile(path) else set()
    todo = [v for v in videos if v.video_id not in done]
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
    return path, report
