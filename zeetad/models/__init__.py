"""Models. Importing this package registers every model component."""
from . import classifiers, heads, layers, localizers, losses  # noqa: F401
from .data_preprocessor import TADDataPreprocessor
from .zeetad import ZEETAD

__all__ = ["TADDataPreprocessor", "ZEETAD"]
