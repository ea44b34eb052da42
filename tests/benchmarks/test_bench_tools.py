"""Smoke tests: each benchmark tool runs end to end at --quick sizes, prints its tables and writes sane JSON."""
import json
import subprocess
import sys

import pytest

from testing_utils import ROOT


def run_tool(name, *args, tmp_path):
    out = tmp_path / f'{name}.json'
    proc = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / name), *args, '--json', str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


@pytest.mark.slow
def test_benchmark_model_quick(tmp_path):
    stdout, res = run_tool('benchmark_model.py', '--quick', '--threads', '1', tmp_path=tmp_path)
    for heading in ('## Parameters', '## Training step', '## Where the step time goes', '## Deformable attention',
                    '## Full-sequence equivalent', '## Inference on THUMOS14-test-shaped input'):
        assert heading in stdout
    assert 'train step rate:' in stdout and '(0 connection attempts)' in stdout
    assert res['network_attempts'] == [] and res['threads'] == 1
    params = res['parameters']
    parts = [v for k, v in params.items() if k != 'total']
    assert sum(p['total'] for p in parts) == params['total']['total']
    assert sum(p['trainable'] for p in parts) == params['total']['trainable'] < params['total']['total']
    assert params['classifier: text tower (open_clip)']['trainable'] == 0
    assert res['step_rate_samples_per_s'] == pytest.approx(2 / res['train']['median_s']['total'])
    assert res['train']['saved_activations_mib'] > 0
    breakdown = res['breakdown']['parts']
    assert breakdown['matcher']['calls'] == 4  # one match per decoder layer (aux losses)
    assert breakdown['text']['calls'] == 1 and breakdown['encoder']['calls'] == 4
    assert breakdown['core']['calls'] == 8  # 4 encoder + 4 decoder attention calls
    assert res['breakdown']['other_forward_ms'] >= -1e-6
    for rows in res['attention'].values():
        assert [r['method'] for r in rows][0] == 'naive loop'
        assert max(r['max_abs_diff'] for r in rows) < 1e-4
    inf = res['inference']
    assert inf['videos'] == 212 and inf['timed_windows'] == 4 and inf['videos_per_s'] > 0
    assert res['long']['length'] == 64


@pytest.mark.slow
def test_benchmark_data_quick(tmp_path):
    stdout, res = run_tool('benchmark_data.py', '--quick', '--dtypes', 'float16', '--threads', '1',
                           tmp_path=tmp_path)
    assert '## Training pipeline throughput' in stdout and '| format | dtype' in stdout and 'x model' in stdout
    assert 'model step rate:' in stdout
    rows = res['results']
    assert len(rows) == 8  # 2 formats x 1 dtype x 2 inputs x 2 worker counts
    assert {r['items'] for r in rows if r['input'] == 'full'} == {6}
    assert len({r['items'] for r in rows if r['input'] == '128'}) == 1
    for r in rows:
        assert r['samples'] == (4 if r['input'] == 'full' else 8) and r['ratio'] > 0
    assert res['model_rates']['window'] > 0 and res['model_rates']['full'] > 0


def test_benchmark_data_with_given_step_rate(tmp_path):
    stdout, res = run_tool('benchmark_data.py', '--quick', '--step-rate', '2.0', '--formats', 'npy', '--dtypes',
                           'float16', '--inputs', '128', 'full', '--workers', '0', tmp_path=tmp_path)
    assert 'given (--step-rate)' in stdout
    window, full = res['results']
    # Ratios compare snippets/s: the model takes 2 windows of 32 (the --quick model window) per second.
    assert window['ratio'] == pytest.approx(window['snippets_per_s'] / (2.0 * 32))
    assert full['ratio'] == pytest.approx(full['snippets_per_s'] / (2.0 * 32))  # estimated linearly
    assert 'estimated' in res['model_rates']['full_source']
