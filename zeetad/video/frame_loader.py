"""Decoding in worker processes: videos -> chunks of preprocessed uint8 frames.

A ``torch.utils.data.DataLoader`` over :class:`VideoFrameChunks` runs PyAV in
``num_workers`` processes so decoding keeps up with a GPU encoder. Workers take
the next video from a shared counter (not a fixed split), so a few long videos
do not leave the other workers idle. Each video arrives as one or more chunks
of at most ``chunk_frames`` frames, in order; a video that fails to decode
arrives as a chunk with ``error`` set (earlier chunks of it must be dropped).
"""
from __future__ import annotations

import dataclasses
import inspect
import multiprocessing
import time
from typing import Callable, Dict, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .decode import iter_frames
from .probe import VideoDecodeError, probe_video
from .sources import VideoSource

Chunk = Dict[str, object]


class VideoFrameChunks(IterableDataset):
    """Iterable of frame chunks; one pass only.

    Args:
        videos: the videos to decode, in the order workers pick them up.
        fps: sampling rate (see :func:`zeetad.video.decode.iter_frames`).
        preprocess: ``(H, W, 3) uint8 -> (h, w, 3) uint8`` applied in the
            worker (e.g. :class:`~zeetad.video.clip_image.FramePreprocessor`);
            ``None`` keeps full frames (then all frames of a video must share
            one size, which is true of real videos).
        chunk_frames: frames per chunk; bounds worker memory for long videos.
        decoder_threads: FFmpeg threads per worker (0: FFmpeg's choice).
        mp_context: multiprocessing context of the DataLoader that reads this
            (the shared work counter must come from the same one).

    Chunk keys: ``video_id``, ``path``, ``index`` (0, 1, ...), ``frames``
    ``(N, h, w, 3)`` uint8 tensor, ``timestamps`` ``(N,)`` float64 tensor,
    ``last`` (bool), ``error`` (``None`` or the reason), ``info`` (probe
    metadata dict, first chunk only) and ``decode_s`` (worker seconds spent).
    """

    def __init__(self, videos: Sequence[VideoSource], fps: float,
                 preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, chunk_frames: int = 256,
                 decoder_threads: int = 1, mp_context=None):
        super().__init__()
        if chunk_frames < 1:
            raise ValueError(f'chunk_frames must be >= 1, got {chunk_frames}')
        self.videos, self.fps, self.preprocess = list(videos), float(fps), preprocess
        self.chunk_frames, self.decoder_threads = int(chunk_frames), int(decoder_threads)
        self._next = (mp_context or multiprocessing.get_context()).Value('q', 0)

    def _take(self) -> Optional[VideoSource]:
        with self._next.get_lock():
            index = self._next.value
            if index >= len(self.videos):
                return None
            self._next.value = index + 1
        return self.videos[index]

    def __iter__(self) -> Iterator[Chunk]:
        if get_worker_info() is not None:
            torch.set_num_threads(1)  # PIL/numpy work only; leave the cores to decoding
        while True:
            video = self._take()
            if video is None:
                return
            yield from self._chunks(video)

    def _chunks(self, video: VideoSource) -> Iterator[Chunk]:
        index, frames, stamps = 0, [], []
        start = time.perf_counter()
        try:
            info = dataclasses.asdict(probe_video(video.path))
            for t, rgb in iter_frames(video.path, self.fps, threads=self.decoder_threads):
                frames.append(rgb if self.preprocess is None else self.preprocess(rgb))
                stamps.append(t)
                if len(frames) == self.chunk_frames:
                    yield self._chunk(video, index, frames, stamps, False, info, start)
                    index, frames, stamps, info = index + 1, [], [], None
                    start = time.perf_counter()
        except VideoDecodeError as e:
            yield self._error(video, index, e.reason)
            return
        except Exception as e:  # a bad video must not end the whole run
            yield self._error(video, index, f'{type(e).__name__}: {e}')
            return
        if not frames and index == 0:
            yield self._error(video, index, 'no frame sampled')
            return
        yield self._chunk(video, index, frames, stamps, True, info, start)

    @staticmethod
    def _chunk(video, index, frames, stamps, last, info, start) -> Chunk:
        array = np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)
        return dict(video_id=video.video_id, path=video.path, index=index, frames=torch.from_numpy(array),
                    timestamps=torch.tensor(stamps, dtype=torch.float64), last=last, error=None, info=info,
                    decode_s=time.perf_counter() - start)

    @staticmethod
    def _error(video, index, reason) -> Chunk:
        return dict(video_id=video.video_id, path=video.path, index=index, frames=None, timestamps=None,
                    last=True, error=str(reason), info=None, decode_s=0.0)


def _keep(chunk: Chunk) -> Chunk:
    return chunk


def make_frame_loader(videos: Sequence[VideoSource], fps: float,
                      preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, *,
                      num_workers: int = 4, chunk_frames: int = 256, decoder_threads: int = 1,
                      pin_memory: bool = False, prefetch_factor: int = 2) -> DataLoader:
    """A DataLoader yielding :class:`VideoFrameChunks` chunks, decoded in ``num_workers`` processes.

    ``num_workers=0`` decodes in the calling process (debugging, tests).
    """
    ctx = multiprocessing.get_context()
    dataset = VideoFrameChunks(videos, fps, preprocess, chunk_frames, decoder_threads, mp_context=ctx)
    kwargs = {}
    if num_workers > 0:
        # in_order=False: hand over whichever worker's chunk is ready; chunks of one video still come in
        # order because a single worker produces them.
        kwargs = dict(multiprocessing_context=ctx, prefetch_factor=prefetch_factor)
        if 'in_order' in inspect.signature(DataLoader).parameters:  # torch >= 2.6
            kwargs['in_order'] = False
    return DataLoader(dataset, batch_size=None, num_workers=num_workers, collate_fn=_keep,
                      pin_memory=pin_memory, **kwargs)
