"""Writing a dataset in the on-disk formats zeetad reads: the one writer behind the synthetic generators
(:mod:`.synthetic_io`: THUMOS14-, ActivityNet- and invented-shaped), the benchmark dataset
(``benchmarks/common/data.py``) and the tests' toy data; they differ only in what they write.

- annotations: ActivityNet-style JSON ``{"version", "database": {video_id: {"subset", "duration", "fps",
  "annotations": [{"label", "segment": [start, end]}]}}}``, as :func:`.annotations.load_annotations` reads it;
- per-video arrays ``(T, C)``: one ``<video_id>.npy`` per video (the ``npy`` feature store), or
- one HDF5 file with a dataset per video and file attributes (the ``hdf5`` feature store).

Every file is written to a temporary name and renamed into place (:mod:`zeetad.utils.atomic_io`), so a reader
or a resumed run never sees half a file.
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Iterable, Iterator, Optional

import numpy as np

from zeetad.utils.atomic_io import atomic_path, atomic_write_text

from .annotations import VideoRecord


def annotation_database(records: Iterable[VideoRecord]) -> dict:
    """``{video_id: entry}`` of the annotation file, in ``records`` order."""
    return {r.video_id: {'subset': r.subset, 'duration': r.duration, 'fps': r.fps,
                         'annotations': [{'label': i.label, 'segment': [i.start, i.end]} for i in r.instances]}
            for r in records}


def write_annotation_file(path: str, records: Iterable[VideoRecord], version: str,
                          indent: Optional[int] = None) -> None:
    """Write the ActivityNet-style annotation JSON of ``records`` (``indent`` as :func:`json.dumps`)."""
    content = {'version': version, 'database': annotation_database(records)}
    atomic_write_text(os.fspath(path), json.dumps(content, indent=indent))


def save_npy(path: str, array: np.ndarray) -> None:
    """One video's ``(T, C)`` array as ``path`` (``.npy``), created with its parent folder."""
    with atomic_path(os.fspath(path)) as tmp, open(tmp, 'wb') as f:
        np.save(f, array)


@contextlib.contextmanager
def open_hdf5_writer(path: str, attrs: Optional[dict] = None) -> Iterator['h5py.File']:  # noqa: F821
    """A new HDF5 file (file attributes ``attrs``) open for writing; renamed onto ``path`` when the block ends
    without error. Add a video with ``h5.create_dataset(video_id, data=array)``; ``h5[a] = h5[b]`` makes ``a``
    a hard link to ``b``'s data."""
    import h5py
    with atomic_path(os.fspath(path)) as tmp, h5py.File(tmp, 'w') as h5:
        h5.attrs.update(attrs or {})
        yield h5
