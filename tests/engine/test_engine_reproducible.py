"""Reproducibility: the same config and seed, trained twice through tools/train.py, gives identical weights and
metrics (CPU, one thread count). The runs differ in PYTHONHASHSEED, so set-iteration order cannot leak in."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zeetad.engine import load_checkpoint_file
from zeetad.engine.runner_setup import load_config, resolve_deterministic
from testing_utils import ROOT, write_tiny_training_config


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    # No randomness line: the default of configs/_base_/default_runtime.py is what is tested.
    extra = ('train_cfg = dict(max_epochs=1, val_interval=1, target_iters=None)\n'
             'default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))\n')
    return write_tiny_training_config(tmp_path_factory.mktemp('repro'), extra, max_videos=6, train_workers=2,
                                      test_videos=4)


def test_default_randomness_is_deterministic_on_cpu(config):
    cfg = load_config(str(config))  # inherits configs/_base_/default_runtime.py
    assert cfg.randomness.seed == 0
    resolve_deterministic(cfg)
    assert cfg.randomness.deterministic is (not torch.cuda.is_available())


def train(config: Path, work_dir: Path, hash_seed: str) -> tuple:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONHASHSEED=hash_seed)
    proc = subprocess.run([sys.executable, str(ROOT / 'tools/train.py'), str(config), '--work-dir', str(work_dir),
                           '--cfg-options', f'val_evaluator.result_dir={work_dir}'],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert 'deterministic: True' in output  # the default 'auto' resolved on CPU (mmengine's environment log)
    state = load_checkpoint_file(str(work_dir / 'epoch_1.pth'))['state_dict']
    return state, json.loads((work_dir / 'tad_map.json').read_text())


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='bit-identical training is a CPU guarantee (docs/reliability.md)')
def test_same_seed_twice_gives_identical_weights_and_metrics(config, tmp_path):
    state_a, map_a = train(config, tmp_path / 'a', '1')
    state_b, map_b = train(config, tmp_path / 'b', '2')
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    assert map_a['mAP'] == map_b['mAP'] and map_a['average'] == map_b['average']
