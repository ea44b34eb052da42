"""Safe, atomic checkpoints on top of mmengine.

* Loading: mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that means
  ``weights_only=True`` and resuming fails on mmengine's ``HistoryBuffer``. We register a local loader that
  keeps ``weights_only=True`` and allows exactly the extra types mmengine checkpoints hold, inside a
  ``safe_globals`` context (no process-wide override), and turns a truncated or foreign file into a
  :class:`CheckpointError` naming the file.
* Saving: the local file backend writes to a temporary file and renames it into place, so a crash never
  leaves a half-written checkpoint under the final name.
* Resuming: ``last_checkpoint`` holds an absolute path; :func:`find_latest_checkpoint` also finds the
  checkpoint when the work dir was copied or moved.
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.runner.checkpoint import CheckpointLoader

from zeetad.utils.atomic_io import atomic_write_bytes


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read; the message names the file."""


def _restricted_getattr(history_buffer_cls):
    """``getattr`` limited to HistoryBuffer's public methods: its pickles name its statistics methods through
    ``getattr(HistoryBuffer, 'mean')``; nothing else may be looked up while unpickling."""

    def safe_getattr(obj, name, *default):
        if obj is history_buffer_cls and isinstance(name, str) and not name.startswith('_') \
                and callable(getattr(history_buffer_cls, name, None)):
            return getattr(obj, name)
        raise pickle.UnpicklingError(f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')

    return safe_getattr


def _allowed_globals() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    multiarray = getattr(np, "_core", None) and np._core.multiarray or np.core.multiarray
    allowed = [HistoryBuffer, (_restricted_getattr(HistoryBuffer), 'builtins.getattr'), np.ndarray, np.dtype,
               multiarray._reconstruct, multiarray.scalar]
    allowed += [type(np.dtype(name)) for name in ('float16', 'float32', 'float64', 'int32', 'int64', 'bool',
                                                  'uint8', 'int8', 'int16', 'uint16', 'uint32', 'uint64')]
    return allowed


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """``torch.load(weights_only=True)`` with mmengine's own types allowed; clear errors."""
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        with torch.serialization.safe_globals(_allowed_globals()):
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f'{filename}: refused to load: it holds objects outside the allowed checkpoint '
                              f'types ({str(exc).splitlines()[0]})') from None
    except Exception as exc:  # truncated files surface as EOFError, KeyError, RuntimeError, ...
        raise CheckpointError(f'{filename}: not a readable PyTorch checkpoint (truncated or foreign file?): '
                              f'{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}') from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{filename}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    return checkpoint


class AtomicLocalBackend(LocalBackend):
    """Local file backend whose writes are all-or-nothing (temporary file + ``os.replace``)."""

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(str(filepath), obj.encode(encoding))


def find_latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir``, robust to a moved work dir."""
    work_dir = Path(work_dir)
    marker = work_dir / 'last_checkpoint'
    if marker.is_file():
        recorded = marker.read_text().strip()
        for candidate in (Path(recorded), work_dir / Path(recorded).name):
            if candidate.is_file():
                return str(candidate)
    found = []
    for path in work_dir.glob('*.pth'):
        match = re.fullmatch(r'(epoch|iter)_(\d+)\.pth', path.name)
        if match:
            found.append((int(match.group(2)), str(path)))
    return max(found)[1] if found else None


def install() -> None:
    """Register the safe loader and the atomic local backend with mmengine (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    from mmengine.fileio import io as mm_io
    mm_io.backend_instances.clear()  # drop LocalBackend instances cached before the switch
