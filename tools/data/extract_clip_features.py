#!/usr/bin/env python
"""``zeetad extract``, mmdetection style: ``python tools/data/extract_clip_features.py ARGS``
(the job lives in zeetad/cli/extract.py).

Extract CLIP frame features from a folder (or list) of videos into one HDF5 file.
Options: ``python tools/data/extract_clip_features.py -h``.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # a source checkout without pip install

from zeetad.cli.extract import cli, main, parse_args  # noqa: E402,F401  (tests import main / parse_args)

if __name__ == '__main__':
    sys.exit(cli(prog='tools/data/extract_clip_features.py'))
