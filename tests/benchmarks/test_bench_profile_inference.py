"""Smoke test: benchmarks/benchmark_inference.py at --quick sizes."""
import json
import subprocess
import sys

import pytest

from testing_utils import ROOT
from benchmarks.common.model import video_windows


@pytest.mark.slow
def test_benchmark_inference_quick(tmp_path):
    out = tmp_path / 'p.json'
    proc = subprocess.run([sys.executable, str(ROOT / 'benchmarks/benchmark_inference.py'), '--quick', '--threads', '1',
                           '--json', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    expected = video_windows(str(ROOT / 'data/thumos14/annotations/thumos14.json'), 'Test')[:8]
    assert res['videos'] == 8 and res['windows'] == sum(n_win for *_, n_win in expected)
    assert res['model']['windows_per_s'] > 0 and res['model']['whole_video_cpu_s'] > 0
    assert {'encoder', 'decoder', 'input'} <= set(res['model']['parts_ms'])
    assert res['postprocess']['same'] is True and res['postprocess']['videos'] == 8
    assert '## Merge + Soft-NMS of 8 videos' in proc.stdout and 'deformable encoder' in proc.stdout
