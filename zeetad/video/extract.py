"""The extraction loop: decoded frame chunks -> CLIP image features -> one HDF5 dataset per video.

Decoding runs in DataLoader worker processes (:mod:`zeetad.video.frame_loader`);
this process only encodes and writes, so the encoder is never waiting on a
single decoding thread. A video's features are written when its last chunk has
been encoded; Ctrl-C (or SIGTERM, see the tool) closes the file cleanly and
the next run with the same arguments resumes after the complete videos.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Collection, Dict, List, Optional, Sequence

import torch

from .clip_image import ClipImageEncoder
from .feature_file import FeatureFileWriter
from .frame_loader import DecodeWorkerError, make_frame_loader
from .report import ExtractReport
from .sources import VideoSource

logger = logging.getLogger(__name__)

DTYPES = ('float16', 'float32')


def run_attributes(encoder: ClipImageEncoder, fps: float, dtype: str) -> dict:
    """File-level metadata of a run (what a resumed run must match)."""
    if dtype not in DTYPES:
        raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}')
    return dict(sample_fps=float(fps), offset_s=0.0, dtype=dtype, **encoder.describe())


def _by_size_desc(videos: Sequence[VideoSource]) -> List[VideoSource]:
    # Longest (largest) first: the last videos to finish are then short ones, so workers end together.
    def size(v: VideoSource) -> int:
        try:
            return os.path.getsize(v.path)
        except OSError:
            return -1
    return sorted(videos, key=lambda v: (-size(v), v.video_id))


class _Progress:
    """tqdm over videos (videos/s, ETA) with frames/s in the postfix; silent when disabled."""

    def __init__(self, total: int, enabled: bool, desc: str):
        self.bar = None
        self.start = time.perf_counter()
        if enabled and total:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit='video', desc=desc, dynamic_ncols=True, smoothing=0.1)

    def update(self, videos: int, frames: int, failed: int) -> None:
        if self.bar is None:
            return
        rate = frames / max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f'{rate:,.1f} frames/s, {failed} failed', refresh=False)
        self.bar.update(videos)

    def write(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message)
        else:
            logger.warning(message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def extract_features(videos: Sequence[VideoSource], out_path: str, encoder: ClipImageEncoder, *,
                     fps: float = 1.0, batch_size: int = 64, num_workers: int = 4, dtype: str = 'float16',
                     chunk_frames: int = 256, decoder_threads: int = 1, overwrite: bool = False,
                     skip_ids: Collection[str] = (), progress: bool = True, desc: str = 'CLIP features',
                     ) -> ExtractReport:
    """Extract ``(T, C)`` CLIP features at ``fps`` for each video into ``out_path``.

    Args:
        videos: the videos of this rank (ids must be unique).
        out_path: HDF5 file, created or resumed (see
            :class:`~zeetad.video.feature_file.FeatureFileWriter`).
        encoder: the image encoder, already on its device (``to_device``).
        fps: frames per second sampled at exact ``k / fps`` timestamps.
        batch_size: frames per encoder forward pass.
        num_workers: decoding processes (0: decode in this process).
        dtype: stored dtype, ``'float16'`` or ``'float32'``.
        chunk_frames: frames per worker chunk (worker memory bound).
        decoder_threads: FFmpeg threads per worker.
        overwrite: discard an existing ``out_path`` first.
        skip_ids: ids complete elsewhere (e.g. a merged file), not redone.
        progress: show a tqdm bar.

    Returns:
        An :class:`ExtractReport`; ``interrupted`` is set after Ctrl-C, which
        is caught here once the file is closed.

    Raises:
        DecodeWorkerError: a worker could not hand frames over (shared memory
            full); the videos finished so far are in ``out_path``.
    """
    report = ExtractReport(out_path=str(out_path), num_workers=num_workers)
    start = time.perf_counter()
    run_attrs = run_attributes(encoder, fps, dtype)
    with FeatureFileWriter(out_path, run_attrs, overwrite=overwrite) as writer:
        report.dropped_incomplete = list(writer.dropped_incomplete)
        complete = writer.complete_ids() | set(skip_ids)
        report.skipped = [v.video_id for v in videos if v.video_id in complete]
        todo = _by_size_desc([v for v in videos if v.video_id not in complete])
        bar = _Progress(len(todo), progress, desc)
        try:
            if todo:
                loader = make_frame_loader(
                    todo, fps, encoder.preprocessor(), num_workers=num_workers, chunk_frames=chunk_frames,
                    decoder_threads=decoder_threads, pin_memory=encoder.device.type == 'cuda')
                _consume(loader, encoder, writer, report, bar, batch_size)
        except (KeyboardInterrupt, RuntimeError) as e:
            # A decoding worker killed by a signal (SIGTERM to the whole job, the OOM killer) stops the run
            # like Ctrl-C does: the file is consistent and the next run resumes.
            if isinstance(e, RuntimeError) and 'DataLoader worker' not in str(e):
                raise
            report.interrupted = True
            bar.write(f'interrupted{"" if isinstance(e, KeyboardInterrupt) else f" ({e})"}: {out_path} holds '
                      f'{len(report.done)} new complete videos; rerun the same command to resume')
        finally:
            bar.close()
    report.elapsed_s = time.perf_counter() - start
    return report


def _consume(loader, encoder: ClipImageEncoder, writer: FeatureFileWriter, report: ExtractReport,
             bar: _Progress, batch_size: int) -> None:
    """Encode chunks as they arrive; write each video once its last chunk is in."""
    pending: Dict[str, dict] = {}
    iterator = iter(loader)
    try:
        for chunk in iterator:
            vid = chunk['video_id']
            if chunk['fatal']:
                raise DecodeWorkerError(f'decoding worker failed on {vid} ({chunk["path"]}): {chunk["error"]}')
            if chunk['error'] is not None:
                pending.pop(vid, None)
                report.failed[vid] = chunk['error']
                bar.write(f'failed: {vid} ({chunk["path"]}): {chunk["error"]}')
                bar.update(1, report.frames, len(report.failed))
                continue
            entry = pending.setdefault(vid, dict(feats=[], stamps=[], info=None, next=0))
            if chunk['index'] != entry['next']:  # cannot happen with one worker per video; guard anyway
                raise RuntimeError(f'{vid}: chunk {chunk["index"]} arrived, expected {entry["next"]}')
            entry['next'] += 1
            entry['info'] = entry['info'] or chunk['info']
            t0 = time.perf_counter()
            entry['feats'].append(encoder.encode(chunk['frames'], batch_size))
            report.encode_s += time.perf_counter() - t0
            report.decode_s += chunk['decode_s']
            entry['stamps'].append(chunk['timestamps'])
            report.frames += len(chunk['frames'])
            if not chunk['last']:
                bar.update(0, report.frames, len(report.failed))
                continue
            pending.pop(vid)
            feats = torch.cat(entry['feats']).numpy()
            stamps = torch.cat(entry['stamps']).numpy()
            writer.write(vid, feats, stamps, _video_attrs(chunk['path'], entry['info']))
            report.done.append(vid)
            bar.update(1, report.frames, len(report.failed))
    finally:
        # Shut the workers down now, not at garbage collection (matters after Ctrl-C).
        shutdown = getattr(iterator, '_shutdown_workers', None)
        if shutdown is not None:
            try:
                shutdown()
            except RuntimeError as e:  # workers already killed by the signal that stopped us
                logger.debug('while stopping decoding workers: %s', e)


def _video_attrs(path: str, info: Optional[dict]) -> dict:
    attrs = dict(source=os.path.abspath(path))
    if info:
        attrs.update(video_fps=float(info['fps']), video_duration_s=float(info['duration_s']),
                     video_width=int(info['width']), video_height=int(info['height']))
    return attrs

