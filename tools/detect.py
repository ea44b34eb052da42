#!/usr/bin/env python
"""``zeetad detect``, mmdetection style: ``python tools/detect.py ARGS`` (the job lives in zeetad/cli/detect.py).

Find the actions you name in your own videos: open-vocabulary temporal action detection.
Options: ``python tools/detect.py -h``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout without pip install

from zeetad.cli.detect import cli, main, parse_args  # noqa: E402,F401  (tests import main / parse_args)

if __name__ == '__main__':
    sys.exit(cli(prog='tools/detect.py'))
