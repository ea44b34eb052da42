"""Synthetic features laid over a real annotation file, in the real on-disk formats.

Data model (documented in docs/data.md):

* Localisation stream ``(T, C_loc)`` on a snippet grid (stride/window/fps like I3D or TSP): a slowly drifting
  background in a random low-rank subspace plus white noise; inside every instance a class-agnostic
  *actionness* direction with soft edges; Gaussian *boundary* bumps (start and end directions) at the
  instance edges; a weak class-specific direction (so a closed-set model has an advantage, as with real
  I3D features); and distractor bumps (actionness without boundaries) outside instances.
* CLIP stream ``(T_clip, D)`` at ``clip_fps``: a per-video scene vector plus noise; inside an instance of
  class ``c`` the frame embedding moves toward ``normalise(W t_c)``, where ``t_c`` is the class's text
  embedding from the configured open_clip text encoder and ``W = I + eps * G`` is one fixed random near-
  identity map shared by all classes (CLIP's image and text embeddings are aligned but not identical).
  A model trained on seen classes can name unseen ones only through the text encoder.
"""
from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np

from .annotations import VideoRecord
from .timebase import TimeBase


@dataclass
class SyntheticConfig:
    loc_dim: int = 128
    loc_stride: int = 4
    loc_window: int = 16
    loc_fps: Optional[float] = None  # frame rate of the snippet grid (None: the video's own; TSP: 15)
    clip_fps: float = 2.0
    seed: int = 0
    background_rank: int = 8
    noise_std: float = 0.6
    action_amplitude: float = 1.0
    boundary_amplitude: float = 1.2
    boundary_width_s: float = 0.6
    class_amplitude: float = 0.3
    distractors_per_minute: float = 1.0
    distractor_amplitude: float = 0.6
    clip_signal: float = 1.0
    clip_scene: float = 0.8
    clip_noise: float = 1.0
    text_transform_eps: float = 0.35
    dtype: str = 'float16'
    # Harder CLIP stream (defaults: the original data model). ``clip_class_margin`` < 1 pulls the visual class
    # embeddings toward their mean (smaller margins between classes); ``clip_scene_class`` > 0 draws each
    # video's scene vector that far toward one random class's visual embedding (scene frames that look like
    # an action that is not happening).
    clip_class_margin: float = 1.0
    clip_scene_class: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class SyntheticWorld:
    """The fixed random directions shared by every video of one synthetic dataset."""

    def __init__(self, cfg: SyntheticConfig, class_names: Sequence[str], text_embeddings: np.ndarray):
        rng = np.random.default_rng([cfg.seed, 1])
        c = cfg.loc_dim
        self.cfg = cfg
        self.class_index = {name: k for k, name in enumerate(class_names)}
        self.action_dir = _unit(rng.normal(size=c))
        self.start_dir = _unit(rng.normal(size=c))
        self.end_dir = _unit(rng.normal(size=c))
        self.class_dirs = _unit(rng.normal(size=(len(class_names), c)))
        self.background_basis = _unit(rng.normal(size=(cfg.background_rank, c)))
        d = text_embeddings.shape[1]
        warp = np.eye(d) + cfg.text_transform_eps * rng.normal(size=(d, d)) / np.sqrt(d)
        visual = _unit(_unit(text_embeddings) @ warp.T)
        if cfg.clip_class_margin != 1.0:
            centre = visual.mean(axis=0, keepdims=True)
            visual = _unit(centre + cfg.clip_class_margin * (visual - centre))
        self.visual_class_embeddings = visual

    def video_rng(self, video_id: str) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, zlib.crc32(video_id.encode())])

    def localisation_features(self, rec: VideoRecord, tb: TimeBase, rng: np.random.Generator) -> np.ndarray:
        cfg = self.cfg
        num = tb.num_features(rec.duration)
        t = tb.index_to_seconds(np.arange(num))
        drift = np.cumsum(rng.normal(scale=0.15, size=(num, cfg.background_rank)), axis=0)
        drift -= drift.mean(axis=0, keepdims=True)
        feats = np.tanh(drift) @ self.background_basis + rng.normal(scale=cfg.noise_std, size=(num, cfg.loc_dim))
        edge = max(tb.step_s, 0.25)
        for inst in rec.instances:
            inside = _soft_box(t, inst.start, inst.end, edge)
            feats += inside[:, None] * (cfg.action_amplitude * self.action_dir
                                        + cfg.class_amplitude * self.class_dirs[self.class_index[inst.label]])
            feats += cfg.boundary_amplitude * _bump(t, inst.start, cfg.boundary_width_s)[:, None] * self.start_dir
            feats += cfg.boundary_amplitude * _bump(t, inst.end, cfg.boundary_width_s)[:, None] * self.end_dir
        for _ in range(rng.poisson(cfg.distractors_per_minute * rec.duration / 60.0)):
            centre, width = rng.uniform(0, rec.duration), rng.uniform(1.0, 8.0)
            feats += cfg.distractor_amplitude * _soft_box(t, centre - width / 2, centre + width / 2, edge)[:, None] \
                * self.action_dir
        return feats.astype(cfg.dtype)

    def clip_features(self, rec: VideoRecord, rng: np.random.Generator) -> np.ndarray:
        cfg = self.cfg
        num = int(np.floor(rec.duration * cfg.clip_fps)) + 1
        t = np.arange(num) / cfg.clip_fps
        d = self.visual_class_embeddings.shape[1]
        scene = _unit(rng.normal(size=d))
        if cfg.clip_scene_class > 0:  # only when enabled: data with the default stays identical
            confuser = self.visual_class_embeddings[rng.integers(len(self.visual_class_embeddings))]
            scene = _unit((1 - cfg.clip_scene_class) * scene + cfg.clip_scene_class * confuser)
        feats = cfg.clip_scene * scene + cfg.clip_noise * rng.normal(size=(num, d)) / np.sqrt(d)  # noise norm ~ clip_noise
        for inst in rec.instances:
            inside = _soft_box(t, inst.start, inst.end, 0.5 / cfg.clip_fps)
            feats += cfg.clip_signal * inside[:, None] * self.visual_class_embeddings[self.class_index[inst.label]]
        return _unit(feats).astype(cfg.dtype)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True).clip(1e-12)


def _soft_box(t: np.ndarray, start: float, end: float, edge: float) -> np.ndarray:
    """1 inside [start, end], falling off smoothly over ``edge`` seconds outside it."""
    from scipy.special import expit
    return expit((t - start) / (0.25 * edge)) * expit((end - t) / (0.25 * edge))


def _bump(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - centre) / width) ** 2)
