"""A tiny ActivityNet-shaped run end to end: the generator's files, read by the unmodified synthetic ActivityNet
config (whole videos resized to 128 steps, TSP grid, v_-prefixed feature files, class-agnostic Soft-NMS, tIoU
0.5:0.05:0.95), trained on the seen classes of 75/25 split 0 and tested zero-shot
through tools/experiments/run_splits.py."""
import importlib.util
import json
import os

import pytest

from testing_utils import ROOT

CONFIG = 'configs/zeetad/zeetad_synthetic_anet_demo.py'
TINY = {
    'model.localizer.d_model': 32, 'model.localizer.actionness.hidden_dim': 32,
    'model.localizer.transformer.nhead': 2, 'model.localizer.transformer.enc_layers': 1,
    'model.localizer.transformer.dec_layers': 1, 'model.localizer.transformer.dim_ff': 64,
    'model.localizer.transformer.num_queries': 8,
    'train_dataloader.batch_size': 8, 'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False, 'train_dataloader.dataset.max_videos': 48,
    'test_dataloader.batch_size': 32, 'test_dataloader.num_workers': 0,
    'test_dataloader.persistent_workers': False, 'train_cfg.max_epochs': 2,
    'default_hooks.checkpoint.max_keep_ckpts': 1, 'randomness.seed': 0,
}


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'anet_e2e_{os.path.basename(name)}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def anet_checkout(tmp_path, monkeypatch):
    """A folder laid out like the checkout (configs, data/splits) holding a 400-video synthetic ActivityNet."""
    (tmp_path / 'data').mkdir()
    os.symlink(ROOT / 'configs', tmp_path / 'configs')
    os.symlink(ROOT / 'data' / 'splits', tmp_path / 'data' / 'splits')
    monkeypatch.chdir(tmp_path)
    _tool('data/make_synthetic_data').main(['--shape', 'activitynet', '--max-videos', '400',
                                       '--anet-dir', str(ROOT / 'data' / 'activitynet')])
    return tmp_path


@pytest.mark.slow
def test_tiny_activitynet_train_and_zero_shot_test(anet_checkout):
    run_splits = _tool('experiments/run_splits').run_splits
    results, table = run_splits(CONFIG, [75], [0], 'work', TINY, ['0.5', '0.75', '0.95', 'avg'])
    row = results['75/25 split 0']
    assert sorted(row) == sorted(['avg'] + [f'{0.5 + 0.05 * k:g}' for k in range(10)])  # tIoU 0.5:0.05:0.95
    assert 0 < row['0.5'] <= 100 and row['0.95'] <= row['0.5']
    assert table.splitlines()[0] == '| | 0.5 | 0.75 | 0.95 | avg |' and len(table.splitlines()) == 3

    database = json.loads((anet_checkout / 'data/synthetic_activitynet/annotations.json').read_text())['database']
    unseen = set((ROOT / 'data/splits/train_75_test_25/ActivityNet/test/split_0.list').read_text().splitlines())
    tested = {v for v, e in database.items() if e['subset'] == 'validation'
              and any(a['label'] in unseen for a in e['annotations'])}
    predictions = json.loads((anet_checkout / 'work/r75_s0/predictions.json').read_text())['results']
    assert set(predictions) == tested  # official ids, no v_ prefix; every test video has detections
    for video, dets in predictions.items():
        assert {d['label'] for d in dets} <= unseen and len(dets) <= 100
        assert all(0 <= d['segment'][0] < d['segment'][1] <= database[video]['duration'] + 1e-6 for d in dets)


def test_run_splits_rejects_unknown_columns_before_training(tmp_path):
    run_splits = _tool('experiments/run_splits').run_splits
    with pytest.raises(ValueError, match=r"columns \['0.3'\] are not metrics of .*anet_demo.py"):
        run_splits(str(ROOT / CONFIG), [75], [0], str(tmp_path), None, ['0.3', 'avg'])
    assert not any(tmp_path.iterdir())
