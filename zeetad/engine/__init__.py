"""Runtime glue with mmengine: safe/atomic checkpoints, exact resume, guard rails, distributed set-up."""
from . import checkpoint_io
from .checkpoint_hooks import CheckpointFitHook, SafeCheckpointHook
from .checkpoint_io import CheckpointError, find_latest_checkpoint, load_checkpoint_file
from .config_check import ConfigError, validate_config
from .distributed import CollectiveTimeoutError, distributed_job, finalize_distributed, init_distributed
from .name_calibration import NameCalibrationHook, fit_name_scorer
from .nonfinite import GuardedAmpOptimWrapper, GuardedOptimWrapper, NonFiniteLossHook
from .resume import ResumableEpochBasedTrainLoop, RNGStateHook, capture_rng_state, restore_rng_state
from .schedule import StepsTargetEpochTrainLoop

checkpoint_io.install()

__all__ = ['CheckpointFitHook', 'SafeCheckpointHook', 'CheckpointError', 'find_latest_checkpoint',
           'load_checkpoint_file', 'ConfigError', 'validate_config', 'CollectiveTimeoutError', 'distributed_job',
           'finalize_distributed', 'init_distributed', 'GuardedAmpOptimWrapper', 'GuardedOptimWrapper',
           'NonFiniteLossHook', 'ResumableEpochBasedTrainLoop', 'RNGStateHook', 'capture_rng_state',
           'restore_rng_state', 'StepsTargetEpochTrainLoop', 'NameCalibrationHook', 'fit_name_scorer']
