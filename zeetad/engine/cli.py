"""Command-line flags shared by ``tools/train.py`` and ``tools/test.py`` (mmdetection's names)."""
from __future__ import annotations

import argparse
import os
import sys


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


def apply_launcher_env(args: argparse.Namespace) -> argparse.Namespace:
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
    from .config_check import ConfigError
    return (CheckpointError, CheckpointWriteError, ConfigError, AnnotationError, FeatureReadError, SplitError,
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
