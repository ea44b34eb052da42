"""The errors a user of ``tools/detect.py`` can meet, each with a message that says what to do."""
from __future__ import annotations


class DetectError(RuntimeError):
    """Base class: bad input to open-vocabulary detection (the tool exits with status 2 and the message)."""


class NoClassesError(DetectError, ValueError):
    """No class names were given, or they were all blank."""


class VideoReadError(DetectError):
    """A video that cannot be opened or decoded (``path`` and ``reason``)."""

    def __init__(self, path: str, reason: str):
        super().__init__(f'cannot read video {path}: {reason}')
        self.path, self.reason = str(path), str(reason)

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class VideoTooShortError(DetectError, ValueError):
    """A video with fewer feature steps than the model's window."""


class TextEncoderMismatchError(DetectError, ValueError):
    """A checkpoint whose text encoder is not the one the config builds (and extracts video features with)."""


class MissingFeaturesError(DetectError, FileNotFoundError):
    """A localisation stream that detect cannot compute itself (I3D, TSP) and that was not given."""
