"""Command-line flags shared by ``tools/train.py`` and ``tools/test.py`` (mmdetection's names)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options k=v ...`` (mmengine's parsing); an item without ``=`` is a usage error naming it."""
    from mmengine.config import DictAction

    class CfgOptions(DictAction):
        def __call__(self, parser, namespace, values, option_string=None):
            for item in values:
                if '=' not in item or not item.split('=', 1)[0].strip():
                    parser.error(f'{option_string}: {item!r} is not KEY=VALUE (e.g. train_dataloader.batch_size=8)')
            super().__call__(parser, namespace, values, option_string)

    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, default={},
                        help='override config keys, e.g. split.index=3 train_dataloader.batch_size=8')


def add_runtime_args(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options k=v ...``, ``--launcher`` and the ``--local-rank`` that torch.distributed.launch passes."""
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


class UsageError(RuntimeError):
    """A command-line flag that cannot work in this environment; the message names the flag and what to do."""


# what each launcher reads from the environment (mmengine's init_dist fails with a bare KeyError without it)
_LAUNCHER_ENV = {'pytorch': ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'),
                 'slurm': ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')}
_LAUNCHER_HINT = {'pytorch': 'start it with torchrun (tools/dist_train.sh / tools/dist_test.sh)',
                  'slurm': 'start it with srun (tools/slurm_train.sh)'}


def apply_launcher_env(args: argparse.Namespace,
                       parser: Optional[argparse.ArgumentParser] = None) -> argparse.Namespace:
    """Check that ``--launcher`` has the environment its launcher sets (a usage error naming the missing
    variables otherwise, through ``parser``), and pass ``--local-rank`` on as ``LOCAL_RANK``."""
    missing = [name for name in _LAUNCHER_ENV.get(args.launcher, ()) if name not in os.environ]
    if missing and parser is not None:
        parser.error(f'--launcher {args.launcher}: {", ".join(missing)} not set; {_LAUNCHER_HINT[args.launcher]}, '
                     'or drop --launcher for one process')
    if args.launcher != 'none':  # torch.distributed.launch passes --local-rank instead of the variable
        os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def user_errors() -> tuple:
    """Exceptions whose message already names the config key, file or video at fault: the tools print that
    message alone (``error: ...``, exit status 1) instead of a traceback."""
    from ..datasets.annotations import AnnotationError
    from ..datasets.feature_store import FeatureReadError  # also FeatureDataError (NaN, length mismatch)
    from ..datasets.splits import SplitError
    from .checkpoint_io import CheckpointError, CheckpointWriteError
    from .config_keys import ConfigError
    return (UsageError, CheckpointError, CheckpointWriteError, ConfigError, AnnotationError, FeatureReadError, SplitError,
            FileNotFoundError,
            NotADirectoryError, PermissionError)  # the OS errors name their path


def run_tool(main, args) -> int:
    """Run a tool's ``main(args)``; -> exit status 0, or 1 after printing the message of a :func:`user_errors`
    exception (``error: ...``) instead of a traceback."""
    errors = user_errors()
    try:
        main(args)
    except errors as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    return 0
