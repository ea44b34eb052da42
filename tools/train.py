#!/usr/bin/env python
"""``zeetad train``, mmdetection style: ``python tools/train.py ARGS`` (the job lives in zeetad/cli/train.py).

Train a zeetad model.
Options: ``python tools/train.py -h``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout without pip install

from zeetad.cli.train import cli, main, parse_args  # noqa: E402,F401  (tests import main / parse_args)

if __name__ == '__main__':
    sys.exit(cli(prog='tools/train.py'))
