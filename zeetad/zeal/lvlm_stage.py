"""ZEAL stage 4: LVLM start/end confidences for each kept class of each video, cached in HDF5.

Frames come from :func:`zeetad.video.decode.iter_frames` (frame ``i`` at ``i / fps`` s) unless a
``frame_loader`` is given. Videos already complete in the cache are skipped; a failing video is
reported and the run goes on.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from zeetad.text.prompts import normalize_class_name
from .confidence_store import ConfidenceStore
from .queries import ActionQueries

logger = logging.getLogger(__name__)

FrameLoader = Callable[[str, float], Iterable[tuple[float, np.ndarray]]]


@dataclass(frozen=True)
class LVLMJob:
    """One video: id, file path and the classes to ask about (the class filter's choice)."""
    video_id: str
    path: str
    classes: tuple


@dataclass
class LVLMReport:
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def default_frame_loader(path: str, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    from zeetad.video.decode import iter_frames
    return iter_frames(path, fps)


def video_questions(classes: Sequence[str], queries: Mapping[str, ActionQueries],
                    name_style: str = 'auto') -> list[tuple[str, str]]:
    """``2C`` ``(action phrase, question)`` pairs: class 0 start, class 0 end, class 1 start, ..."""
    missing = [c for c in classes if c not in queries]
    if missing:
        raise KeyError(f'no queries for class(es) {missing}; add them to the queries file')
    out = []
    for c in classes:
        phrase = normalize_class_name(c, name_style)
        out += [(phrase, queries[c].start), (phrase, queries[c].end)]
    return out


def score_video(scorer, frames: Iterable[tuple[float, np.ndarray]], classes: Sequence[str],
                queries: Mapping[str, ActionQueries], name_style: str = 'auto', chunk_frames: int = 16) -> np.ndarray:
    """Start/end P(yes) of ``classes`` on a stream of ``(t, frame)`` -> ``(T, C, 2)`` float32.

    Frames are consumed ``chunk_frames`` at a time, so a long video is never held in memory at once.
    """
    questions = video_questions(classes, queries, name_style)
    rows, chunk = [], []
    for _, frame in frames:
        chunk.append(frame)
        if len(chunk) == chunk_frames:
            rows.append(scorer.score_frames(chunk, questions))
            chunk = []
    if chunk:
        rows.append(scorer.score_frames(chunk, questions))
    if not rows:
        return np.zeros((0, len(classes), 2), np.float32)
    return np.concatenate(rows).reshape(-1, len(classes), 2).astype(np.float32)


def run_lvlm_stage(jobs: Sequence[LVLMJob], scorer, queries: Mapping[str, ActionQueries], store: ConfidenceStore,
                   fps: float = 1.0, frame_loader: Optional[FrameLoader] = None, name_style: str = 'auto',
                   chunk_frames: int = 16, progress: bool = True, run_attrs: Optional[Mapping] = None) -> LVLMReport:
    """Score every job's video and cache it in ``store`` (opened with ``mode='a'``).

    Returns:
        An :class:`LVLMReport` (done / skipped as cached / failed with reasons, frames and seconds spent).
    """
    loader = frame_loader or default_frame_loader
    report = LVLMReport()
    if run_attrs:
        store.set_attrs(run_attrs)
    iterator = jobs
    if progress:
        from tqdm import tqdm
        iterator = tqdm(jobs, desc='ZEAL LVLM', unit='video')
    for job in iterator:
        if store.has(job.video_id):
            report.skipped.append(job.video_id)
            continue
        tic = time.perf_counter()
        try:
            scores = score_video(scorer, loader(job.path, fps), job.classes, queries, name_style, chunk_frames)
            if len(scores) == 0:
                raise ValueError('no frame decoded')
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            report.failed[job.video_id] = f'{type(exc).__name__}: {exc}'
            logger.warning('ZEAL LVLM: video %s failed: %s', job.video_id, report.failed[job.video_id])
            continue
        store.write(job.video_id, scores, job.classes, sample_fps=fps, offset_s=0.0)
        report.seconds += time.perf_counter() - tic
        report.frames += len(scores)
        report.done.append(job.video_id)
    return report
