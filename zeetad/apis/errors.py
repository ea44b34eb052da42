"""The errors a user of ``tools/detect.py`` can meet, each with a message that says what to do."""
from __future__ import annotations

from zeetad.video.probe import VideoDecodeError


class DetectError(RuntimeError):
    """Base class: bad input to open-vocabulary detection (the tool exits with status 2 and the message)."""


class NoClassesError(DetectError, ValueError):
    """No class names were given, or they were all blank."""


class RepeatedClassNamesError(DetectError, ValueError):
    """A class named twice (case and spaces ignored): one CLIP text, every detection doubled and scores split."""


class VideoReadError(DetectError, VideoDecodeError):
    """A video that cannot be opened or decoded: the decoder's ``path`` and ``reason`` (and its pickling)."""

    def __str__(self) -> str:
        return f'cannot read video {self.path}: {self.reason}'


class VideoTooShortError(DetectError, ValueError):
    """A video with fewer feature steps than the model's window."""


class TextEncoderMismatchError(DetectError, ValueError):
    """A checkpoint whose text encoder is not the one the config builds (and extracts video features with)."""


class MissingFeaturesError(DetectError, FileNotFoundError):
    """A localisation stream that detect cannot compute itself (I3D, TSP) and that was not given."""
