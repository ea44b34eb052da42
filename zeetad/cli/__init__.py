"""The ``zeetad`` command: ``zeetad train|test|eval|detect|extract ...`` (also ``python -m zeetad ...``).

Each job lives in its own module here with ``parse_args``, ``main`` and ``cli`` (exit status); the
``tools/{train,test,eval_detections,detect}.py`` and ``tools/data/extract_clip_features.py`` scripts are thin
wrappers around the same modules, so mmdetection habits keep working.
"""
from __future__ import annotations

import importlib
import sys
from typing import Optional, Sequence

# command -> (module, one-line description); modules are imported only when their command runs.
COMMANDS = {
    'train': ('zeetad.cli.train', 'train a model from a config (tools/train.py)'),
    'test': ('zeetad.cli.test', 'test a checkpoint on the configured test set (tools/test.py)'),
    'eval': ('zeetad.cli.eval', 'score official-format detections against ground truth (tools/eval_detections.py)'),
    'detect': ('zeetad.cli.detect', 'detect named actions in your own videos (tools/detect.py)'),
    'extract': ('zeetad.cli.extract', 'extract CLIP frame features into HDF5 (tools/data/extract_clip_features.py)'),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    rows = '\n'.join(f'  {name:<{width}}  {desc}' for name, (_, desc) in COMMANDS.items())
    return f'usage: zeetad COMMAND [ARGS ...]   (zeetad COMMAND -h for its options)\n\ncommands:\n{rows}\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``zeetad COMMAND ARGS``; return its exit status (2 for an unknown command)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage(), end='', file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        from zeetad.utils.suggest import did_you_mean
        print(f'zeetad: unknown command {name!r}{did_you_mean(name, sorted(COMMANDS))}\n\n{usage()}',
              end='', file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return module.cli(rest, prog=f'zeetad {name}')
