"""Runtime glue with mmengine: safe/atomic checkpoints, runner set-up for the tools."""
from . import checkpoint_io
from .checkpoint_io import CheckpointError, find_latest_checkpoint, load_checkpoint_file

checkpoint_io.install()

__all__ = ['CheckpointError', 'find_latest_checkpoint', 'load_checkpoint_file']
