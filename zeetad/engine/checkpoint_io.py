"""Safe, atomic checkpoints on top of mmengine.

* Loading: mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; on torch >= 2.6 that means
  ``weights_only=True`` and resuming fails on mmengine's ``HistoryBuffer``. We register a local loader that
  keeps ``weights_only=True`` and allows exactly the extra types mmengine checkpoints hold, inside a
  ``safe_globals`` context (no process-wide override), and turns a truncated or foreign file into a
  :class:`CheckpointError` naming the file.
* Saving: the local file backend writes to a temporary file and renames it into place, so a crash never
  leaves a half-written checkpoint under the final name.
  A failed write raises :class:`CheckpointWriteError` naming the file (disk full, file size limit).
* Resuming: ``last_checkpoint`` holds an absolute path; :func:`find_latest_checkpoint` also finds the
  checkpoint when the work dir was copied or moved. :func:`resolve_resume` refuses a ``--resume`` that finds
  nothing (unless asked to start afresh) and removes the temporary files of a save that was killed.
* Fit: :func:`check_state_dict_fits` refuses a checkpoint of another model (shapes, missing or extra keys).
"""
from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
from mmengine.fileio.backends import LocalBackend, register_backend
from mmengine.runner.checkpoint import CheckpointLoader

from zeetad.utils.atomic_io import atomic_write_bytes

# Temporary files of ``atomic_write_bytes`` (``.iter_8.pth.k3j_x9a2.tmp``) for checkpoints and ``last_checkpoint``.
_ORPHAN_RE = re.compile(r'^\.(?:.+\.pth|last_checkpoint)\.[A-Za-z0-9_]+\.tmp$')
_MAX_NAMED_KEYS = 5


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model; the message names the file."""


class CheckpointWriteError(OSError):
    """A file that could not be written (disk full, file size limit, ...); ``filename`` is set."""

    def __str__(self) -> str:  # the message already names the file
        return self.strerror


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


def _last_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and 'documentation' not in line]
    return lines[-1] if lines else type(exc).__name__


def load_checkpoint_file(filename: str, map_location=None) -> dict:
    """``torch.load(weights_only=True)`` with mmengine's own types allowed; clear errors."""
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        with torch.serialization.safe_globals(_allowed_globals()):
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch reports both a disallowed class and bytes that are no pickle at all as UnpicklingError;
        # only the first is a refusal, the second is a foreign or corrupt file
        forbidden = re.search(r'[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)', str(exc))
        if forbidden:
            raise CheckpointError(f'{filename}: refused to load: it holds {forbidden.group(1)}, which is outside '
                                  'the allowed checkpoint types') from None
        raise CheckpointError(f'{filename}: not a PyTorch checkpoint (its bytes are neither a torch.save zip '
                              f'archive nor a readable pickle: {_last_line(exc)})') from None
    except Exception as exc:  # truncated files surface as EOFError, KeyError, RuntimeError, ...
        raise CheckpointError(f'{filename}: not a readable PyTorch checkpoint (truncated or foreign file?): '
                              f'{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}') from None
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{filename}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    return checkpoint


class AtomicLocalBackend(LocalBackend):
    """Local file backend whose writes are all-or-nothing (temporary file + ``os.replace``)."""

    def put(self, obj: bytes, filepath) -> None:
        try:
            atomic_write_bytes(str(filepath), obj)
        except OSError as exc:  # ENOSPC / EFBIG messages do not say which file; ours does
            raise CheckpointWriteError(exc.errno, f'cannot write {filepath}: {exc.strerror or exc} '
                                       f'({len(obj) / 2 ** 20:.1f} MiB); the previous file of that name, '
                                       'if any, is unchanged', str(filepath)) from exc

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)


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


def remove_orphan_temp_files(folder: str) -> List[str]:
    """Delete the temporary files a process killed while saving a checkpoint left in ``folder``; log each.

    Call only where no save is under way in ``folder`` (rank 0, before its own save or at resume).
    """
    from mmengine.logging import print_log
    removed = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if _ORPHAN_RE.match(name):
            path = os.path.join(folder, name)
            try:
                size = os.path.getsize(path)
                os.remove(path)
            except FileNotFoundError:  # another rank of a shared work dir was faster
                continue
            print_log(f'removed {path} ({size / 2 ** 20:.1f} MiB): the temporary file of a checkpoint save that '
                      'was killed before it completed', logger='current', level=30)
            removed.append(path)
    return removed


def resolve_resume(work_dir: str, allow_fresh_start: bool = False) -> Optional[str]:
    """The checkpoint ``--resume`` (without a file) continues from; cleans up killed saves first.

    Raises :class:`CheckpointError` when there is none, unless ``allow_fresh_start`` (then a warning says the
    run starts from iteration 0 and ``None`` is returned).
    """
    from mmengine.logging import print_log
    removed = remove_orphan_temp_files(work_dir) if int(os.environ.get('RANK', '0')) == 0 else []
    latest = find_latest_checkpoint(work_dir) if os.path.isdir(work_dir) else None
    if latest is not None:
        return latest
    message = f'--resume: nothing to resume from in {work_dir}: no last_checkpoint, epoch_N.pth or iter_N.pth'
    if removed:
        message += f' (only {len(removed)} incomplete temporary checkpoint files, now removed)'
    if not allow_fresh_start:
        raise CheckpointError(message + '. To start from scratch when there is nothing to resume (e.g. a job that '
                                        'may be requeued) pass --resume-if-any; to start afresh, drop --resume')
    print_log(message + '; starting from scratch (--resume-if-any)', logger='current', level=30)
    return None


# Parameters used in training only (DN-DETR denoising queries, zeetad/models/denoising.py): a test or detect
# config may have them or not, whatever the checkpoint was trained with.
TRAINING_ONLY_PREFIXES = ('denoising.',)


def fit_training_only(model: torch.nn.Module, state_dict: dict) -> list[str]:
    """Make ``state_dict`` (in place) agree with ``model`` on the training-only tensors, for testing and
    inference: those the model lacks are dropped, those the checkpoint lacks take the model's own values (never
    used outside training). Never for resuming. Returns the keys dropped or filled."""
    def bare(key: str) -> str:
        return key[len('module.'):] if key.startswith('module.') else key
    ours = model.state_dict()
    dropped = [k for k in state_dict if bare(k).startswith(TRAINING_ONLY_PREFIXES) and bare(k) not in ours]
    for key in dropped:
        del state_dict[key]
    changed = [bare(k) for k in dropped]
    have = {bare(k) for k in state_dict}
    for key, value in ours.items():
        if key.startswith(TRAINING_ONLY_PREFIXES) and key not in have:
            state_dict[key] = value
            changed.append(key)
    return changed


def check_state_dict_fits(model: torch.nn.Module, state_dict: dict, checkpoint: str) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` has exactly ``model``'s keys and shapes.

    A ``module.`` prefix (DDP) is ignored on both sides. The message names ``checkpoint`` and the first
    mismatched keys, so a checkpoint of another config never loads half-way.
    """
    def strip(keys):
        return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in keys.items()}
    ours, theirs = strip(model.state_dict()), strip(state_dict)
    shapes = [f'{k} {tuple(theirs[k].shape)} in the checkpoint vs {tuple(v.shape)} in the model'
              for k, v in ours.items() if k in theirs and hasattr(theirs[k], 'shape')
              and tuple(theirs[k].shape) != tuple(v.shape)]
    missing = [k for k in ours if k not in theirs]
    extra = [k for k in theirs if k not in ours]
    if not (shapes or missing or extra):
        return
    parts = []
    for what, keys in (('shape mismatches', shapes), ('missing keys', missing), ('unexpected keys', extra)):
        if keys:
            more = f', ... ({len(keys) - _MAX_NAMED_KEYS} more)' if len(keys) > _MAX_NAMED_KEYS else ''
            parts.append(f'{len(keys)} {what}: ' + '; '.join(keys[:_MAX_NAMED_KEYS]) + more)
    raise CheckpointError(f'{checkpoint} does not fit the model of this config (was it trained with another '
                          'config?): ' + '. '.join(parts))


def install() -> None:
    """Register the safe loader and the atomic local backend with mmengine (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_checkpoint_file, force=True)
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    from mmengine.fileio import io as mm_io
    mm_io.backend_instances.clear()  # drop LocalBackend instances cached before the switch
