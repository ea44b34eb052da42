#!/usr/bin/env python
"""``zeetad eval``, mmdetection style: ``python tools/eval_detections.py ARGS`` (the job lives in
zeetad/cli/eval.py; only numpy is imported, not torch). Options: ``python tools/eval_detections.py -h``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a source checkout without pip install

from zeetad.cli.eval import cli, main, parse_args  # noqa: E402,F401  (tests import main / parse_args)

if __name__ == '__main__':
    sys.exit(cli(prog='tools/eval_detections.py'))
