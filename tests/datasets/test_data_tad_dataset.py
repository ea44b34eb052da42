import h5py
import numpy as np
import pytest
import torch

from zeetad.datasets import TADDataset
from zeetad.datasets.timebase import make_timebase
from zeetad.models.data_preprocessor import TADDataPreprocessor


def build(cfg, **kw):
    args = dict(ann_file=cfg['ann_file'], loc_features=cfg['loc_features'], clip_features=cfg['clip_features'],
                split=cfg['split'], window_size=32, window_overlap=0.25, verbose=False)
    args.update(kw)
    return TADDataset(**args)


def test_zero_shot_filtering_train_and_test(tiny_dataset):
    train = build(tiny_dataset, subset='Validation', role='train')
    assert train.metainfo['classes'] == ('Jump', 'Swim', 'Run')
    # vid_c only holds the unseen class Throw: dropped from training
    assert {d['video_id'] for d in train.data_list} == {'vid_a', 'vid_b'}
    assert all(len(d['gt_labels']) > 0 for d in train.data_list)
    test = build(tiny_dataset, subset='Test', role='test', test_mode=True)
    assert test.metainfo['classes'] == ('Throw',)
    # only unseen-class instances are ground truth; vid_e (no Throw) is not evaluated by default
    assert test.metainfo['ground_truth'] == {'vid_d': [{'label': 'Throw', 'segment': [1.0, 4.0]}]}
    everything = build(tiny_dataset, subset='Test', role='test', test_mode=True, eval_videos='all')
    assert everything.metainfo['ground_truth']['vid_e'] == []
    closed = build(tiny_dataset, subset='Validation', role='train', split=None)
    assert len(closed.metainfo['classes']) == 4


def test_windows_and_normalised_targets(tiny_dataset):
    ds = build(tiny_dataset, subset='Validation', role='train', window_size=32, drop_empty_windows=False)
    vid_a = [d for d in ds.data_list if d['video_id'] == 'vid_a']
    tb = make_timebase(tiny_dataset['loc_features']['timebase'], 10.0)
    n = tb.num_features(30.0)
    assert vid_a[-1]['window'][1] == n  # windows reach the end
    first = vid_a[0]
    assert first['begin_s'] == pytest.approx(tb.offset_s - 0.5 * tb.step_s)
    # Jump [2, 6] s maps back exactly from normalised coordinates
    k = list(first['gt_labels']).index(0)
    seg = first['gt_segments'][k] * first['span_s'] + first['begin_s']
    assert np.allclose(seg, [2.0, 6.0], atol=1e-5)


def test_item_streams_are_aligned_by_time(tiny_dataset):
    ds = build(tiny_dataset, subset='Validation', role='train')
    item = ds[0]
    inputs, sample = item['inputs'], item['data_samples']
    assert inputs['loc'].shape == (sample['valid_len'], 8) and inputs['clip'].shape == (sample['valid_len'], 6)
    vid, (start, stop) = sample['video_id'], sample['window']
    with h5py.File(tiny_dataset['clip_features']['path']) as h5:
        clip = h5[vid][()]
    # localisation step j is centred at t_j; the CLIP stream (1 fps, frames at i s) is interpolated there
    tb = make_timebase(tiny_dataset['loc_features']['timebase'], 10.0)
    t = tb.index_to_seconds(np.arange(start, stop))
    expected = np.stack([np.interp(t, np.arange(len(clip)), clip[:, c]) for c in range(6)], 1)
    assert np.allclose(inputs['clip'].numpy(), expected, atol=1e-5)
    assert sample['classes'] == ('Jump', 'Swim', 'Run')


def test_resize_mode(tiny_dataset):
    ds = build(tiny_dataset, subset='Validation', role='train', window_size=None, resize_length=16)
    item = ds[0]
    assert item['inputs']['loc'].shape == (16, 8)
    assert len(ds) == 2  # one item per video


def test_preprocessor_pads_and_masks(tiny_dataset):
    ds = build(tiny_dataset, subset='Test', role='test', test_mode=True, eval_videos='all', window_size=100)
    items = [ds[i] for i in range(len(ds))]
    lengths = [it['data_samples']['valid_len'] for it in items]
    assert len(set(lengths)) > 1
    batch = TADDataPreprocessor(pad_multiple=8)({'inputs': [it['inputs'] for it in items],
                                                  'data_samples': [it['data_samples'] for it in items]})
    x = batch['inputs']
    assert x['loc'].shape[1] % 8 == 0 and x['loc'].shape[1] >= max(lengths)
    assert (~x['mask']).sum(1).tolist() == lengths
    assert torch.allclose(x['clip'].norm(dim=-1)[~x['mask']], torch.ones(sum(lengths)), atol=1e-5)
    assert (x['loc'][x['mask']] == 0).all()


def test_missing_features_error_and_skip(tiny_dataset, tmp_path):
    import os
    os.remove(os.path.join(tiny_dataset['loc_features']['root'], 'vid_b.npy'))
    with pytest.raises(FileNotFoundError, match="vid_b.*vid_b.npy"):
        build(tiny_dataset, subset='Validation', role='train')
    ds = build(tiny_dataset, subset='Validation', role='train', on_missing_features='skip')
    assert {d['video_id'] for d in ds.data_list} == {'vid_a'}


def test_wrong_dim_and_nan_are_named(tiny_dataset):
    with pytest.raises(ValueError, match="vid_a.*dim 8.*loc_features.dim is 16"):
        build(tiny_dataset, subset='Validation', role='train',
              loc_features=dict(tiny_dataset['loc_features'], dim=16))
    path = tiny_dataset['loc_features']['root'] + '/vid_b.npy'
    feats = np.load(path)
    feats[3, 2] = np.nan
    np.save(path, feats)
    ds = build(tiny_dataset, subset='Validation', role='train')
    idx = next(i for i, d in enumerate(ds.data_list) if d['video_id'] == 'vid_b')
    with pytest.raises(ValueError, match="vid_b.npy.*vid_b.*NaN.*row 3, column 2"):
        ds[idx]


def test_empty_subset_and_bad_keys(tiny_dataset):
    with pytest.raises(ValueError, match="subset \\['Nope'\\] has no videos"):
        build(tiny_dataset, subset='Nope', role='train')
    with pytest.raises(ValueError, match='dataset.role'):
        build(tiny_dataset, subset='Validation', role='validate')
    with pytest.raises(ValueError, match='loc_features.timebase: needs "stride"'):
        build(tiny_dataset, subset='Validation', role='train',
              loc_features=dict(tiny_dataset['loc_features'], timebase=dict(window=4)))


def test_split_eval_videos_option_selects_the_test_videos(tiny_dataset, tmp_path):
    # docs/data.md: `--cfg-options split.eval_videos=all` next to split.ratio / split.index; it used to be ignored.
    from zeetad.engine.runner_setup import load_config
    from zeetad.registry import DATASETS
    dataset = dict(type='TADDataset', ann_file=tiny_dataset['ann_file'], loc_features=tiny_dataset['loc_features'],
                   clip_features=tiny_dataset['clip_features'], subset='Test', role='test', test_mode=True,
                   window_size=32, verbose=False)
    path = tmp_path / 'cfg.py'
    path.write_text(f'split = {tiny_dataset["split"]!r}\ntest_dataloader = dict(dataset=dict({dataset!r}, split=split))\n')
    for options, videos, selection in (({}, {'vid_d'}, "eval_videos='with_test_classes': 1 of 2 Test videos"),
                                       ({'split.eval_videos': 'all'}, {'vid_d', 'vid_e'},
                                        "eval_videos='all': 2 of 2 Test videos")):
        ds = DATASETS.build(load_config(str(path), options).test_dataloader.dataset)
        assert set(ds.metainfo['ground_truth']) == videos
        assert ds.metainfo['video_selection'].startswith(selection)
    with pytest.raises(ValueError, match="split.eval_videos: must be 'with_test_classes' or 'all'"):
        DATASETS.build(load_config(str(path), {'split.eval_videos': 'every'}).test_dataloader.dataset)
    with pytest.raises(ValueError, match=r"split: unknown key 'eval_video' \(did you mean 'eval_videos'\?\)"):
        DATASETS.build(load_config(str(path), {'split.eval_video': 'all'}).test_dataloader.dataset)
