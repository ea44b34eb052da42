"""A new dataset is one config file (docs/data.md): the standard tools train and test from it."""
import json
import sys
import textwrap

import pytest

from testing_utils import ROOT, write_tiny_dataset

sys.path.insert(0, str(ROOT / 'tools'))


@pytest.mark.slow
def test_one_config_file_trains_and_tests(tmp_path, tiny_clip_ckpt):
    data = write_tiny_dataset(tmp_path / 'data', loc_dim=16, clip_dim=12)
    config = tmp_path / 'my_dataset.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = ['{ROOT}/configs/zeetad/zeetad_synthetic_thumos14_demo.py']
        split = {data['split']!r}
        loc_features = {data['loc_features']!r}
        clip_features = {data['clip_features']!r}
        train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
            ann_file={data['ann_file']!r}, split=split, loc_features=loc_features, clip_features=clip_features,
            window_size=64))
        test_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
            ann_file={data['ann_file']!r}, split=split, loc_features=loc_features, clip_features=clip_features,
            window_size=64))
        val_dataloader = test_dataloader
        model = dict(
            localizer=dict(loc_dim=16, clip_dim=12, d_model=32,
                           transformer=dict(nhead=2, enc_layers=1, dec_layers=1, dim_ff=32, num_queries=6),
                           actionness=dict(hidden_dim=16)),
            classifier=dict(text_encoder=dict(pretrained={tiny_clip_ckpt!r}, num_adapter_blocks=1)))
        train_cfg = dict(max_epochs=1, target_iters=None)  # one epoch, not the demo's ~700 iterations
    '''))
    import test as test_tool
    import train as train_tool
    work = tmp_path / 'work'
    train_tool.main([str(config), '--work-dir', str(work)])
    assert (work / 'epoch_1.pth').is_file()
    out = tmp_path / 'pred.json'
    metrics = test_tool.main([str(config), str(work / 'epoch_1.pth'), '--work-dir', str(work), '--out', str(out)])
    assert set(metrics) >= {'mAP@0.30', 'average_mAP'}, sorted(metrics)
    assert 0.0 <= metrics['average_mAP'] <= 1.0
    results = json.loads(out.read_text())
    assert set(results) >= {'version', 'results', 'external_data'}
    # only the unseen class (Throw) is scored, on the one test video holding it; there must be detections
    # (a model or writer that produces none would otherwise pass every check below)
    assert set(results['results']) == {'vid_d'}
    detections = results['results']['vid_d']
    assert detections and {d['label'] for d in detections} == {'Throw'}
    for det in detections:
        start, end = det['segment']
        assert 0.0 <= start < end <= 30.0 and 0.0 <= det['score'] <= 1.0  # seconds inside the 30 s video
