"""Every dataset generator writes what it wrote before its writing moved to zeetad/datasets/dataset_writer.py.

``writer_golden.json`` holds the fingerprints (``writer_cases.fingerprint``) of each generator's output for a
fixed seed, captured from the code before the refactor; the published figures were measured on this data, so the
generators' content must not move. Regenerate only for an intended change of content:
``cd tests/datasets && PYTHONPATH=../..:.. python writer_cases.py > writer_golden.json``.
"""
import json
from pathlib import Path

import pytest

from writer_cases import CASES, fingerprint

GOLDEN = json.loads((Path(__file__).parent / 'writer_golden.json').read_text())


def _differences(got, want, where: str) -> list:
    """Paths at which the fingerprint ``got`` differs from ``want`` (all of them, not only the first)."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or sorted(got) != sorted(want):
            return [f'{where}: files/keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}']
        return [d for k in want for d in _differences(got[k], want[k], f'{where}/{k}')]
    if isinstance(want, list):  # [dtype, shape, sum, sum |x|, sum x^2]
        if got[:2] != want[:2] or got[2:] != pytest.approx(want[2:], rel=1e-6, abs=1e-6):
            return [f'{where}: {got} != {want}']
        return []
    return [] if got == want else [f'{where}: {got!r} != {want!r}']


@pytest.mark.parametrize('case', sorted(CASES))
def test_generator_output_is_unchanged(case, tmp_path):
    CASES[case](tmp_path)
    assert _differences(fingerprint(tmp_path), GOLDEN[case], case) == []
