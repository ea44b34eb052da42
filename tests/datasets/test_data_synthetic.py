import csv
import json
from collections import Counter

import h5py
import numpy as np
import pytest

from zeetad.datasets.annotations import load_annotations
from zeetad.datasets.synthetic import SyntheticConfig, SyntheticWorld
from zeetad.datasets.synthetic_anet import activitynet_shaped_records, read_activitynet_classes
from zeetad.datasets.synthetic_io import existing_dataset
from zeetad.datasets.timebase import make_timebase
from testing_utils import ROOT


def test_files_in_real_formats_and_class_coverage(synthetic_small):
    meta = json.loads((synthetic_small['root'] / 'meta.json').read_text())
    records = load_annotations(synthetic_small['ann_file'])
    assert meta['num_videos'] == len(records) == 40
    assert len(meta['classes']) == 20  # every class kept despite the small subset
    for subset in ('Validation', 'Test'):
        assert len({i.label for r in records if r.subset == subset for i in r.instances}) == 20
    rec = records[0]
    loc = np.load(f"{synthetic_small['loc_root']}/{rec.video_id}.npy")
    tb = make_timebase(dict(stride=4, window=16, fps=None), rec.fps)
    assert loc.shape == (tb.num_features(rec.duration), 32) and loc.dtype == np.float16
    with h5py.File(synthetic_small['clip_path']) as h5:
        assert h5.attrs['sample_fps'] == 2.0 and h5.attrs['normalized']
        clip = h5[rec.video_id][()]
    assert clip.shape == (int(np.floor(rec.duration * 2.0)) + 1, 256)
    assert np.allclose(np.linalg.norm(clip.astype(np.float32), axis=1), 1.0, atol=2e-3)
    assert existing_dataset(str(synthetic_small['root']), SyntheticConfig(loc_dim=32, seed=0),
                            synthetic_small['text_cfg'], 40) is not None
    assert existing_dataset(str(synthetic_small['root']), SyntheticConfig(loc_dim=32, seed=1),
                            synthetic_small['text_cfg'], 40) is None


def _world(num_classes=4, dim=16, seed=0):
    rng = np.random.default_rng(99)
    names = [f'c{k}' for k in range(num_classes)]
    return SyntheticWorld(SyntheticConfig(loc_dim=24, seed=seed), names, rng.normal(size=(num_classes, dim))), names


def test_deterministic_per_seed_and_video():
    from zeetad.datasets.annotations import Instance, VideoRecord
    rec = VideoRecord('v1', 'Test', 60.0, 30.0, [Instance('c1', 10.0, 20.0)])
    world, _ = _world()
    tb = make_timebase(dict(stride=4, window=16, fps=None), 30.0)
    a = world.localisation_features(rec, tb, world.video_rng('v1'))
    b = world.localisation_features(rec, tb, _world()[0].video_rng('v1'))
    c = world.localisation_features(rec, tb, _world(seed=1)[0].video_rng('v1'))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_signal_marks_extent_and_class_through_text():
    from zeetad.datasets.annotations import Instance, VideoRecord
    world, names = _world()
    rec = VideoRecord('v2', 'Test', 120.0, 30.0, [Instance('c2', 40.0, 70.0)])
    tb = make_timebase(dict(stride=4, window=16, fps=None), 30.0)
    rng = world.video_rng('v2')
    loc = world.localisation_features(rec, tb, rng).astype(np.float32)
    t = tb.index_to_seconds(np.arange(len(loc)))
    inside = (t > 42) & (t < 68)
    outside = ((t > 32) & (t < 38)) | ((t > 72) & (t < 78))  # nearby, so the slow background drift cancels
    proj = loc @ world.action_dir
    assert proj[inside].mean() - proj[outside].mean() > 0.7  # the actionness direction marks the extent
    clip = world.clip_features(rec, rng).astype(np.float32)
    tc = np.arange(len(clip)) / 2.0
    sims = clip[(tc > 42) & (tc < 68)].mean(0) @ world.visual_class_embeddings.T
    assert sims.argmax() == 2  # pooled CLIP frames inside the instance point at its class's embedding
    out_sims = clip[(tc < 30)].mean(0) @ world.visual_class_embeddings.T
    assert sims[2] - out_sims[2] > 0.3


ANET_CSV = str(ROOT / 'data/activitynet/video_info_new.csv')
ANET_CLASSES = str(ROOT / 'data/activitynet/action_name.csv')


def test_activitynet_shaped_records_use_real_videos():
    records = activitynet_shaped_records(ANET_CSV, ANET_CLASSES, max_videos=450, seed=0)
    assert len(records) == 450
    assert {r.subset for r in records} == {'training', 'validation'}
    with open(ANET_CSV) as f:
        real = {row['video']: row for row in csv.DictReader(f)}
    for r in records:
        # official ids have no v_ prefix (the feature files keep it); duration, fps and subset are the real ones
        assert not r.video_id.startswith('v_') and real['v_' + r.video_id]['subset'] == r.subset
        assert r.duration == float(real['v_' + r.video_id]['seconds'])
        assert 1 <= len(r.instances) <= 3 and len({i.label for i in r.instances}) == 1
        spans = sorted((i.start, i.end) for i in r.instances)
        assert all(0 <= s < e <= r.duration for s, e in spans)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # instances of one video never overlap


def test_activitynet_shaped_records_cover_every_class_in_both_subsets():
    """Every split file names classes from all 200; each must have training and validation videos."""
    records = activitynet_shaped_records(ANET_CSV, ANET_CLASSES, max_videos=400, seed=3)
    classes = read_activitynet_classes(ANET_CLASSES)
    for subset in ('training', 'validation'):
        per_class = Counter(r.instances[0].label for r in records if r.subset == subset)
        assert set(per_class) == set(classes) and max(per_class.values()) == 1
    with pytest.raises(ValueError, match='max_videos=300 is too small'):
        activitynet_shaped_records(ANET_CSV, ANET_CLASSES, max_videos=300, seed=0)


def test_activitynet_csv_errors_name_the_file(tmp_path):
    bad = tmp_path / 'names.csv'
    bad.write_text('action\nSkiing\nSkiing\n')
    with pytest.raises(ValueError, match=r"names.csv: class name 'Skiing' is listed twice"):
        read_activitynet_classes(str(bad))
    info = tmp_path / 'info.csv'
    info.write_text('video,seconds\nv_a,3.0\n')
    with pytest.raises(ValueError, match=r"info.csv: missing column\(s\) \['fps', 'subset'\]"):
        activitynet_shaped_records(str(info), ANET_CLASSES, None, 0)


def test_activitynet_features_on_the_tsp_grid_of_the_config(tmp_path, tiny_clip_ckpt):
    """The generator writes ActivityNet features where the ActivityNet config reads them: ``v_<id>.npy`` and
    HDF5 ``v_<id>``, with one row per TSP snippet (16 frames at 15 fps, whatever the video's own fps)."""
    from mmengine.config import Config
    from zeetad.datasets.synthetic_io import write_synthetic_dataset
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
    from zeetad.text.encode import encode_class_names
    records = [r for r in activitynet_shaped_records(ANET_CSV, ANET_CLASSES, 400, seed=0) if r.fps != 15.0][:3]
    text_cfg = dict(type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG, pretrained=tiny_clip_ckpt)
    cfg = SyntheticConfig(loc_dim=16, loc_stride=16, loc_fps=15.0, clip_fps=1.0)
    write_synthetic_dataset(records, str(tmp_path), cfg, lambda n: encode_class_names(text_cfg, n), text_cfg,
                            progress=False, feature_prefix='v_')
    ds = Config.fromfile(str(ROOT / 'configs/zeetad/zeetad_synthetic_anet_demo.py')).train_dataloader.dataset
    assert ds.loc_features.prefix == ds.clip_features.prefix == 'v_'
    tb = make_timebase(ds.loc_features.timebase, records[0].fps)
    with h5py.File(tmp_path / 'features' / 'clip.h5') as h5:
        for r in records:
            loc = np.load(tmp_path / 'features' / 'loc' / f'v_{r.video_id}.npy')
            assert loc.shape[0] == tb.num_features(r.duration) == int((r.duration - 16 / 30) // (16 / 15)) + 1
            assert h5[f'v_{r.video_id}'].shape[0] == int(np.floor(r.duration)) + 1
    assert existing_dataset(str(tmp_path), cfg, text_cfg, 3, 'v_') is not None
    assert existing_dataset(str(tmp_path), cfg, text_cfg, 3, '') is None


def test_dataset_written_before_a_new_setting_is_reused(synthetic_small):
    """A meta.json without a later-added setting (loc_fps) was written with its default: still complete."""
    meta_path = synthetic_small['root'] / 'meta.json'
    meta = json.loads(meta_path.read_text())
    old = dict(meta, config={k: v for k, v in meta['config'].items() if k != 'loc_fps'})
    meta_path.write_text(json.dumps(old))
    try:
        cfg = SyntheticConfig(loc_dim=32, seed=0)
        assert existing_dataset(str(synthetic_small['root']), cfg, synthetic_small['text_cfg'], 40) is not None
        assert existing_dataset(str(synthetic_small['root']), SyntheticConfig(loc_dim=32, seed=0, loc_fps=15.0),
                                synthetic_small['text_cfg'], 40) is None
    finally:
        meta_path.write_text(json.dumps(meta))
