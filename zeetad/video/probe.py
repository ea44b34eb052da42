"""Probing videos with PyAV: container metadata (duration, rate, size) without decoding frames, and the
container helpers that :mod:`.decode` samples frames with.

``av`` is imported inside the functions so that importing zeetad stays cheap.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Optional


class VideoDecodeError(RuntimeError):
    """A video that cannot be opened or decoded: ``path`` and a human-readable ``reason``."""

    def __init__(self, path: str, reason: str):
        super().__init__(f'{path}: {reason}')
        self.path, self.reason = str(path), str(reason)

    def __reduce__(self):
        # Exceptions pickle through ``self.args`` (the message): rebuild from the fields instead, so the
        # error survives the trip from a decoding worker process.
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class VideoInfo:
    """Container metadata of a video's first video stream.

    ``num_frames`` is ``None`` when the container does not store a frame count;
    ``duration_s`` then comes from the container or, failing that, from the
    packets' timestamps (no decoding).
    """
    duration_s: float
    fps: float
    num_frames: Optional[int]
    width: int
    height: int
    header_duration_s: Optional[float] = None  # set when the frames end well before the container says


def import_av():
    """The ``av`` module (PyAV), imported on first use so that importing zeetad stays cheap."""
    try:
        import av
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('video decoding needs PyAV: pip install av') from e
    return av


def open_container(path: str):
    """An open PyAV container with at least one video stream; ``VideoDecodeError`` naming ``path`` else."""
    av = import_av()
    try:
        container = av.open(str(path), metadata_errors='ignore')
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise VideoDecodeError(path, f'cannot open: {e}') from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, 'no video stream')
    return container


def stream_rate(stream) -> Optional[Fraction]:
    """The stream's nominal frame rate (average, guessed, then base rate), None if it has none."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    return None


def stream_origin(stream) -> Optional[Fraction]:
    """The stream's start time in seconds (times are measured from it), None if unknown."""
    if stream.start_time is None or stream.time_base is None:
        return None
    return stream.start_time * Fraction(stream.time_base)


def probe_video(path: str, check_end: bool = False) -> VideoInfo:
    """Read a video's metadata without decoding frames.

    Args:
        check_end: also demux every packet (reads the whole file, decodes nothing) to find where the frames
            really end. A truncated file keeps the header of the whole video (Matroska: 20 s, with frames
            to 9.6 s); when the packets end more than two frames or 1 % before the header's duration, this
            warns with both and returns the packets' duration (the header's in ``header_duration_s``).

    Raises:
        VideoDecodeError: unreadable file, no video stream, or no usable timing.
    """
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        rate = stream_rate(stream)
        num_frames = int(stream.frames) if stream.frames else None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000  # AV_TIME_BASE
        if duration is None or duration <= 0:
            duration = _duration_from_packets(container, stream, rate)
        if rate is None:
            if not num_frames or not duration:
                raise VideoDecodeError(path, 'no frame rate in the container')
            rate = Fraction(num_frames) / Fraction(duration)
        ctx = stream.codec_context
        info = VideoInfo(duration_s=float(duration), fps=float(rate), num_frames=num_frames,
                         width=int(ctx.width), height=int(ctx.height))
    finally:
        container.close()
    return _check_end(path, info) if check_end else info


def _check_end(path: str, info: VideoInfo) -> VideoInfo:
    """``info`` with the duration of the frames actually present when the header promises more (warns)."""
    import dataclasses
    import warnings
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        found = _duration_from_packets(container, stream, stream_rate(stream))
    finally:
        container.close()
    if 0 < found < info.duration_s - max(2.0 / info.fps, 0.01 * info.duration_s):
        warnings.warn(f'{path}: the header says {info.duration_s:.2f} s but the frames end at {found:.2f} s '
                      f'(truncated file?); using {found:.2f} s', stacklevel=3)
        return dataclasses.replace(info, duration_s=found, header_duration_s=info.duration_s)
    return info


def _duration_from_packets(container, stream, rate: Optional[Fraction]) -> float:
    """End of the last packet relative to the stream start (demuxing only)."""
    av = import_av()
    first = last = None
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            step = packet.duration or (1 / (rate * stream.time_base) if rate else 0)
            start, end = packet.pts, packet.pts + step
            first = start if first is None else min(first, start)
            last = end if last is None else max(last, end)
    except av.error.FFmpegError:
        pass
    if first is None:
        return 0.0
    origin = stream.start_time if stream.start_time is not None else first
    return float((last - origin) * stream.time_base)
