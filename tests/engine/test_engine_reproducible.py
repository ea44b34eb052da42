"""Reproducibility: the same config and seed, trained twice through tools/train.py, gives identical weights and
metrics (CPU, one thread count). The runs differ in PYTHONHASHSEED, so set-iteration order cannot leak in."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zeetad.engine import load_checkpoint_file
from zeetad.engine.runner_setup import load_config, resolve_deterministic

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
_base_ = [{demo!r}]
D = {data!r}
loc_features = dict(format='npy', root=D + '/features/loc', suffix='.npy', dim=128,
                    timebase=dict(stride=4, window=16, fps=None))
clip_features = dict(format='hdf5', path=D + '/features/clip.h5', dim=256, timebase=dict(sample_fps=2.0, offset_s=0.0))
train_dataloader = dict(batch_size=2, num_workers=2, persistent_workers=True,
                        dataset=dict(ann_file=D + '/annotations.json', loc_features=loc_features,
                                     clip_features=clip_features, max_videos=3, verbose=False))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(ann_file=D + '/annotations.json', loc_features=loc_features,
                                   clip_features=clip_features, max_videos=4, verbose=False))
model = dict(
    localizer=dict(d_model=32, transformer=dict(nhead=2, enc_layers=1, dec_layers=1, dim_ff=64, num_queries=8),
                   actionness=dict(hidden_dim=32)),
    classifier=dict(text_encoder=dict(pretrained=D + '/clip/tiny_clip.pt', model_config_file={clip_cfg!r})))
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))
"""


@pytest.fixture(scope='module')
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp('repro')
    spec = importlib.util.spec_from_file_location('zeetad_make_synthetic', ROOT / 'tools/make_synthetic_data.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main(['--max-videos', '6', '--out', str(root / 'data')])
    path = root / 'tiny.py'
    path.write_text(CONFIG.format(demo=str(ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py'),
                                  data=str(root / 'data'),
                                  clip_cfg=str(ROOT / 'configs/_base_/clip/zeetad-tiny-clip.json')))
    return path


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
@pytest.mark.skipif(torch.cuda.is_available(), reason='bit-identical training is a CPU guarantee (README)')
def test_same_seed_twice_gives_identical_weights_and_metrics(config, tmp_path):
    state_a, map_a = train(config, tmp_path / 'a', '1')
    state_b, map_b = train(config, tmp_path / 'b', '2')
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    assert map_a['mAP'] == map_b['mAP'] and map_a['average'] == map_b['average']
