import json

import h5py
import numpy as np

from zeetad.datasets.annotations import load_annotations
from zeetad.datasets.synthetic import SyntheticConfig, SyntheticWorld
from zeetad.datasets.synthetic_io import activitynet_shaped_records, existing_dataset
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


def test_activitynet_shaped_records_use_real_videos():
    records = activitynet_shaped_records(str(ROOT / 'data/activitynet/video_info_new.csv'),
                                         str(ROOT / 'data/activitynet/action_name.csv'), max_videos=50, seed=0)
    assert len(records) == 50
    assert {r.subset for r in records} <= {'training', 'validation'}
    for r in records:
        assert r.instances and all(0 <= i.start < i.end <= r.duration for i in r.instances)
        assert len({i.label for i in r.instances}) == 1
