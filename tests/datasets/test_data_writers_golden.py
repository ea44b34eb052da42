"""Every dataset generator writes what it wrote before its writing moved to zeetad/datasets/dataset_writer.py.

``writer_golden.json`` holds the fingerprints (``writer_cases.fingerprint``) of each generator's output for a
fixed seed, captured from the code before the refactor; README figures were measured on this data, so the
generators' content must not move. Regenerate only for an intended change of content:
``cd tests/datasets && PYTHONPATH=../..:.. python writer_cases.py > writer_golden.json``.
"""
import json
from pathlib import Path

import pytest

from writer_cases import CASES, fingerprint

GOLDEN = json.loads((Path(__file__).parent / 'writer_golden.json').read_text())


def _same(got, want, where):
    if isinstance(want, dict):
        assert sorted(got) == sorted(want), where
        for k in want:
            _same(got[k], want[k], f'{where}/{k}')
    elif isinstance(want, list):  # [dtype, shape, sum, sum |x|, sum x^2]
        assert got[:2] == want[:2], where
        assert got[2:] == pytest.approx(want[2:], rel=1e-6, abs=1e-6), where
    else:
        assert got == want, where


@pytest.mark.parametrize('case', sorted(CASES))
def test_generator_output_is_unchanged(case, tmp_path):
    CASES[case](tmp_path)
    _same(fingerprint(tmp_path), GOLDEN[case], case)
