"""Decoding in worker processes: videos -> chunks of preprocessed uint8 frames.

A ``torch.utils.data.DataLoader`` over :class:`VideoFrameChunks` runs PyAV in
``num_workers`` processes so decoding keeps up with a GPU encoder. Workers take
the next video from a shared counter (not a fixed split), so a few long videos
do not leave the other workers idle. Each video arrives as one or more chunks
of at most ``chunk_frames`` frames, in order; a video that fails to decode
arrives as a chunk with ``error`` set (earlier chunks of it must be dropped).

Workers start from a ``forkserver`` context (``spawn`` where there is none),
never by forking the caller: a process that has decoded anything holds FFmpeg
scaler and OpenMP thread state that a forked child inherits without the
threads, and PyAV >= 14 children then wait forever in ``to_ndarray``.

Chunks travel through shared memory (``/dev/shm``). A container's default of
64 MB holds less than two 256-frame chunks at 224 px, so each chunk is also
capped in bytes to what the shared memory (and the file size limit) leaves for
the chunks in flight, and a worker that still cannot allocate one ends the run
with :class:`DecodeWorkerError` instead of dropping the chunk silently.
"""
from __future__ import annotations

import dataclasses
import inspect
import logging
import multiprocessing
import os
import resource
import time
from typing import Callable, Dict, Iterator, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .decode import iter_frames
from .probe import VideoDecodeError, probe_video
from .sources import VideoSource

Chunk = Dict[str, object]
logger = logging.getLogger(__name__)
SHM_DIR = '/dev/shm'
SHM_SHARE = 0.25  # of the free shared memory, for this loader's chunks in flight (the rest: torch's
# sharing cache, which frees a sent chunk only after the receiver drops it, semaphores, other processes)


class DecodeWorkerError(RuntimeError):
    """A decoding worker could not hand its frames to the main process (e.g. shared memory full)."""


def worker_context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context for decoding workers: ``forkserver``, else ``spawn``; never ``fork``.

    The fork server is a fresh interpreter that has imported this module (so torch) and nothing else;
    each worker forks from it in ~tens of ms instead of re-importing torch as ``spawn`` would.
    """
    methods = multiprocessing.get_all_start_methods()
    if 'forkserver' not in methods:
        return multiprocessing.get_context('spawn')
    ctx = multiprocessing.get_context('forkserver')
    ctx.set_forkserver_preload([__name__])  # no effect once the server runs; harmless then
    return ctx


def chunk_byte_budget(chunks_in_flight: int, shm_dir: str = SHM_DIR) -> Optional[int]:
    """Bytes one chunk may take so ``chunks_in_flight`` of them fit the shared memory; None: no limit known.

    A quarter of what ``shm_dir`` has free, shared among the chunks in flight, and below the process's file
    size limit (``ulimit -f``, which also bounds shared-memory files).
    """
    budgets = []
    try:
        st = os.statvfs(shm_dir)
        budgets.append(int(st.f_bavail * st.f_frsize * SHM_SHARE) // max(chunks_in_flight, 1))
    except OSError:  # no /dev/shm (macOS): torch uses other shared memory; no bound known
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        budgets.append(int(soft * 0.9))
    return max(min(budgets), 1) if budgets else None


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
        chunk_bytes: if set, a chunk also ends before its frames exceed this
            many bytes (at least one frame a chunk); see :func:`chunk_byte_budget`.
        mp_context: multiprocessing context of the DataLoader that reads this
            (the shared work counter must come from the same one).

    Chunk keys: ``video_id``, ``path``, ``index`` (0, 1, ...), ``frames``
    ``(N, h, w, 3)`` uint8 tensor, ``timestamps`` ``(N,)`` float64 tensor,
    ``last`` (bool), ``error`` (``None`` or the reason), ``fatal`` (the error
    ends the whole run, not just this video), ``info`` (probe metadata dict,
    first chunk only) and ``decode_s`` (worker seconds spent).
    """

    def __init__(self, videos: Sequence[VideoSource], fps: float,
                 preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, chunk_frames: int = 256,
                 decoder_threads: int = 1, chunk_bytes: Optional[int] = None, mp_context=None):
        super().__init__()
        if chunk_frames < 1:
            raise ValueError(f'chunk_frames must be >= 1, got {chunk_frames}')
        self.videos, self.fps, self.preprocess = list(videos), float(fps), preprocess
        self.chunk_frames, self.decoder_threads = int(chunk_frames), int(decoder_threads)
        self.chunk_bytes = None if chunk_bytes is None else max(int(chunk_bytes), 1)
        self._next = (mp_context or worker_context()).Value('q', 0)

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
        index, frames, stamps, nbytes = 0, [], [], 0
        start = time.perf_counter()
        try:
            info = dataclasses.asdict(probe_video(video.path))
            for t, rgb in iter_frames(video.path, self.fps, threads=self.decoder_threads):
                frame = rgb if self.preprocess is None else self.preprocess(rgb)
                if frames and self.chunk_bytes is not None and nbytes + frame.nbytes > self.chunk_bytes:
                    yield self._chunk(video, index, frames, stamps, False, info, start)
                    index, frames, stamps, info, nbytes = index + 1, [], [], None, 0
                    start = time.perf_counter()
                frames.append(frame)
                stamps.append(t)
                nbytes += frame.nbytes
                if len(frames) == self.chunk_frames:
                    yield self._chunk(video, index, frames, stamps, False, info, start)
                    index, frames, stamps, info, nbytes = index + 1, [], [], None, 0
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
        tensor = torch.from_numpy(array)
        times = torch.tensor(stamps, dtype=torch.float64)
        if get_worker_info() is not None:
            # Allocate the shared memory of every tensor here, where a failure can be reported: the
            # DataLoader's queue would allocate it in a feeder thread that only prints the error and drops
            # the chunk, leaving the main process waiting forever.
            try:
                tensor.share_memory_()
                times.share_memory_()
            except RuntimeError as e:
                return VideoFrameChunks._error(
                    video, index, f'cannot hand a {array.nbytes / 1e6:.1f} MB chunk of {len(frames)} frames to '
                    f'the main process through shared memory ({SHM_DIR}): {e}', fatal=True)
        return dict(video_id=video.video_id, path=video.path, index=index, frames=tensor,
                    timestamps=times, last=last, error=None, fatal=False,
                    info=info, decode_s=time.perf_counter() - start)

    @staticmethod
    def _error(video, index, reason, fatal: bool = False) -> Chunk:
        return dict(video_id=video.video_id, path=video.path, index=index, frames=None, timestamps=None,
                    last=True, error=str(reason), fatal=fatal, info=None, decode_s=0.0)


def _keep(chunk: Chunk) -> Chunk:
    return chunk


def make_frame_loader(videos: Sequence[VideoSource], fps: float,
                      preprocess: Optional[Callable[[np.ndarray], np.ndarray]] = None, *,
                      num_workers: int = 4, chunk_frames: int = 256, decoder_threads: int = 1,
                      pin_memory: bool = False, prefetch_factor: int = 2) -> DataLoader:
    """A DataLoader yielding :class:`VideoFrameChunks` chunks, decoded in ``num_workers`` processes.

    ``num_workers=0`` decodes in the calling process (debugging, tests). Workers come from
    :func:`worker_context`; chunks are capped to :func:`chunk_byte_budget` of the shared memory.
    """
    ctx = worker_context()  # also for num_workers=0: the shared counter needs a context, never fork's
    chunk_bytes = None
    if num_workers > 0:
        in_flight = num_workers * (prefetch_factor + 2)  # queued, being sent, and the one the caller holds
        chunk_bytes = chunk_byte_budget(in_flight)
        if chunk_bytes is not None and chunk_bytes < 64 * 2 ** 20:
            logger.info('decoding chunks capped at %.1f MB each: shared memory (%s) or the file size limit '
                        'leaves that much for %d chunks in flight', chunk_bytes / 1e6, SHM_DIR,
                        in_flight)
    dataset = VideoFrameChunks(videos, fps, preprocess, chunk_frames, decoder_threads, chunk_bytes=chunk_bytes,
                               mp_context=ctx)
    kwargs = {}
    if num_workers > 0:
        # in_order=False: hand over whichever worker's chunk is ready; chunks of one video still come in
        # order because a single worker produces them.
        kwargs = dict(multiprocessing_context=ctx, prefetch_factor=prefetch_factor)
        if 'in_order' in inspect.signature(DataLoader).parameters:  # torch >= 2.6
            kwargs['in_order'] = False
    return DataLoader(dataset, batch_size=None, num_workers=num_workers, collate_fn=_keep,
                      pin_memory=pin_memory, **kwargs)
