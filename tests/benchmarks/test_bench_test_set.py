"""Smoke test: benchmarks/benchmark_test_set.py at --quick sizes (8 test videos, tiny text tower)."""
import json
import math
import subprocess
import sys

import pytest

from testing_utils import ROOT
from benchmarks.common.model import video_windows


@pytest.mark.slow
def test_benchmark_test_set_quick(tmp_path):
    out = tmp_path / 't.json'
    cmd = [sys.executable, str(ROOT / 'benchmarks' / 'benchmark_test_set.py'), '--quick', '--threads', '1',
           '--data-dir', str(tmp_path / 'feats'), '--json', str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads(out.read_text())
    expected = video_windows(str(ROOT / 'data/thumos14/annotations/thumos14.json'), 'Test')[:8]
    assert res['videos'] == 8 and res['windows'] == sum(n_win for *_, n_win in expected)
    assert res['batches'] == math.ceil(res['windows'] / res['batch_size'])
    phases = {'data', 'model', 'metric.process', 'merge + Soft-NMS', 'mAP'}
    assert set(res['wall_s']) == phases and all(v >= 0 for v in res['wall_s'].values())
    assert sum(res['wall_s'].values()) <= res['total_s'] * 1.01
    assert res['metrics']['average_mAP'] >= 0
    for heading in ('## Whole THUMOS14 test set', 'merge windows + batched Soft-NMS (8 videos)', 'goal (2 threads)'):
        assert heading in proc.stdout
    # A second run reuses the written features (nothing written again).
    proc = subprocess.run(cmd + ['--overlap', '0'], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and 'features written 0.0 s' in proc.stdout, proc.stdout[-2000:] + proc.stderr
    assert json.loads(out.read_text())['windows'] < res['windows']  # overlap 0: fewer windows
