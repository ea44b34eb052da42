"""Video decoding with PyAV: frames sampled on an exact time grid (probing: :mod:`.probe`).

This is the one decoding module of zeetad: the CLIP feature extractor
(``tools/data/extract_clip_features.py``) and ZEAL's LVLM stage (frames at 1 fps)
both read videos through :func:`iter_frames`.

Sampling rule. Timestamps are ``k / fps`` seconds (``k = 0, 1, ...``) measured
from the start of the video stream (its ``start_time``; the first frame's time
when the container gives none). Timestamp ``t`` gets the first decoded frame
whose presentation time is at or after ``t`` (less a tolerance of half a
container tick, at most 1 ms, so frames whose stored times were rounded down
still count as on time). Timestamps after the last frame's start but
inside its display interval (its stored duration, or one frame period at the
stream's nominal rate if that is longer) get the last frame. The yielded
timestamp is always the exact ``k / fps``, never the frame's own time, so row
``i`` of a feature array sampled at ``fps`` is the frame at ``i / fps`` seconds.
After a seek (``start_s > 0``) frames before the first keyframe are dropped,
and if that keyframe is already late the video is decoded from the start.

``av`` is imported inside the functions so that importing zeetad stays cheap.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterator, Optional, Tuple

import numpy as np

from .probe import VideoDecodeError, import_av, open_container, stream_origin, stream_rate

__all__ = ['iter_frames', 'sample_count']


def _frame_time(frame, index: int, rate: Optional[Fraction]) -> Optional[Fraction]:
    if frame.pts is not None and frame.time_base is not None:
        return frame.pts * Fraction(frame.time_base)
    if rate is not None:  # containers without timestamps: count frames
        return Fraction(index) / rate
    return None


def _frame_duration(frame, rate: Optional[Fraction], previous: Optional[Fraction],
                    current: Fraction) -> Fraction:
    duration = getattr(frame, 'duration', None)
    if duration and frame.time_base is not None:
        # Coarse ticks truncate durations (Matroska: 41 ms at 24 fps): trust the nominal rate if longer.
        stored = duration * Fraction(frame.time_base)
        return max(stored, 1 / rate) if rate is not None else stored
    if rate is not None:
        return 1 / rate
    return current - previous if previous is not None and current > previous else Fraction(0)


def _to_rgb(frame) -> np.ndarray:
    return frame.to_ndarray(format='rgb24')


def iter_frames(path: str, fps: float, start_s: float = 0.0, end_s: Optional[float] = None, *,
                threads: int = 0) -> Iterator[Tuple[float, np.ndarray]]:
    """Yield ``(timestamp_s, frame)`` for timestamps ``k / fps`` in ``[start_s, end_s)``.

    Args:
        path: a video file PyAV/FFmpeg can read.
        fps: sampling rate in frames per second (may exceed the video's own
            rate: a frame is then repeated).
        start_s: first timestamp is the smallest ``k / fps >= start_s``. A
            positive ``start_s`` seeks to the preceding keyframe first.
        end_s: stop before this time; ``None`` decodes to the end.
        threads: decoder threads (0: FFmpeg's choice). Use 1 in many worker
            processes to avoid oversubscription.

    Yields:
        ``(t, rgb)``: ``t`` the exact ``k / fps`` (float seconds), ``rgb`` a
        ``(H, W, 3)`` uint8 array. See the module docstring for which frame
        each timestamp gets.

    Raises:
        VideoDecodeError: the file cannot be opened or decoded, or yields no
            frame at all.
    """
    if not fps or fps <= 0 or not math.isfinite(fps):
        raise ValueError(f'fps must be a positive number, got {fps}')
    if start_s < 0 or (end_s is not None and end_s < start_s):
        raise ValueError(f'need 0 <= start_s <= end_s, got start_s={start_s}, end_s={end_s}')
    av = import_av()
    container = open_container(path)
    try:
        stream = _prepare(container, threads)
        rate = stream_rate(stream)
        tick = Fraction(stream.time_base) if stream.time_base is not None else Fraction(1, 1000)
        # Containers round times to their tick (Matroska: 1 ms), so a frame meant for k/fps may be stored
        # up to half a tick early; a 1 ms cap keeps coarse ticks (AVI: one frame) from shifting choices.
        tol = max(Fraction(1, 10 ** 6), min(tick / 2, Fraction(1, 1000)))
        step = Fraction(fps).limit_denominator(10 ** 6)
        k = math.ceil(Fraction(start_s).limit_denominator(10 ** 9) * step - Fraction(1, 10 ** 9))
        end = None if end_s is None else Fraction(end_s).limit_denominator(10 ** 9)
        origin = stream_origin(stream)
        if start_s > 0 and origin is not None and stream.time_base is not None:
            target = origin + Fraction(k) / step
            container.seek(int(target / Fraction(stream.time_base)), stream=stream, backward=True)
            try:
                yield from _sample(container, stream, path, k, step, end, origin, rate, tol, seeked=True)
                return
            except _SeekMissed:
                # Decode from the start instead, on a fresh demuxer (seeking back is as unreliable).
                container.close()
                container = open_container(path)
                stream = _prepare(container, threads)
        yield from _sample(container, stream, path, k, step, end, origin, rate, tol, seeked=False)
    except av.error.FFmpegError as e:
        raise VideoDecodeError(path, f'decoding failed: {e}') from None
    finally:
        container.close()


class _SeekMissed(Exception):
    """A seek did not land on a keyframe at or before the first wanted time (raised before any yield)."""


def _prepare(container, threads: int):
    stream = container.streams.video[0]
    stream.thread_type = 'AUTO'
    stream.thread_count = int(threads)
    return stream


def _sample(container, stream, path: str, k: int, step: Fraction, end: Optional[Fraction],
            origin: Optional[Fraction], rate: Optional[Fraction], tol: Fraction, seeked: bool):
    """The sampling loop of :func:`iter_frames` over one opened container."""
    last_frame, last_time, prev_time = None, None, None
    decoded = 0
    awaiting_key = seeked
    for index, frame in enumerate(container.decode(stream)):
        if awaiting_key:
            # After a seek, frames before the first keyframe may reference data never decoded (MPEG-TS
            # seeks by bytes and lands mid-GOP): drop them; if the keyframe is already past the first
            # wanted time, or times cannot be trusted, start over from the beginning.
            if not frame.key_frame:
                continue
            awaiting_key = False
            if frame.pts is None or frame.time_base is None or \
                    frame.pts * Fraction(frame.time_base) - origin > Fraction(k) / step + tol:
                raise _SeekMissed
        decoded += 1
        t_abs = _frame_time(frame, index, rate)
        if t_abs is None:
            raise VideoDecodeError(path, 'frames carry no timestamps and the stream has no frame rate')
        if origin is None:
            origin = t_abs
        t = t_abs - origin
        rgb = None
        while t + tol >= Fraction(k) / step:
            ts = Fraction(k) / step
            if end is not None and ts >= end:
                return
            rgb = _to_rgb(frame) if rgb is None else rgb.copy()
            yield float(ts), rgb
            k += 1
        prev_time, last_time, last_frame = last_time, t, frame
    if awaiting_key:
        raise _SeekMissed
    if decoded == 0:
        raise VideoDecodeError(path, 'no frame could be decoded')
    # The tolerance absorbs container rounding of the video's end, not of the caller's end_s.
    stop = last_time + _frame_duration(last_frame, rate, prev_time, last_time) - tol
    if end is not None:
        stop = min(stop, end)
    rgb = None
    while Fraction(k) / step < stop:
        rgb = _to_rgb(last_frame) if rgb is None else rgb.copy()
        yield float(Fraction(k) / step), rgb
        k += 1


def sample_count(duration_s: float, fps: float) -> int:
    """Number of timestamps ``k / fps`` strictly inside ``[0, duration_s)`` (at least 1)."""
    return max(1, math.ceil(duration_s * fps - 1e-9))
