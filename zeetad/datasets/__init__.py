"""Datasets: annotation files, feature stores, zero-shot splits, windows. Importing registers them."""
from . import transforms  # noqa: F401
from .annotations import VideoRecord, load_annotations
from .collate import tad_collate
from .splits import ClassSplit, resolve_split
from .tad_dataset import TADDataset
from .timebase import TimeBase, make_timebase

__all__ = ['TADDataset', 'tad_collate', 'VideoRecord', 'load_annotations', 'ClassSplit', 'resolve_split', 'TimeBase',
           'make_timebase']
