#!/usr/bin/env python
"""``zeetad test``, mmdetection style: ``python tools/test.py ARGS`` (the job lives in zeetad/cli/test.py).

Test a trained zeetad model on the configured (zero-shot) test set.
Options: ``python tools/test.py -h``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout without pip install

from zeetad.cli.test import cli, main, parse_args  # noqa: E402,F401  (tests import main / parse_args)

if __name__ == '__main__':
    sys.exit(cli(prog='tools/test.py'))
