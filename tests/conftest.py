"""Shared fixtures: tiny datasets in the real on-disk formats."""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('OMP_NUM_THREADS', '2')


def write_tiny_dataset(root: Path, *, loc_dim: int = 8, clip_dim: int = 6, fps: float = 10.0, stride: int = 2,
                       window: int = 4, clip_fps: float = 1.0, videos=None, seed: int = 0) -> dict:
    """A 4-class toy dataset: annotation JSON, per-video .npy localisation features, one HDF5 CLIP file."""
    import h5py
    rng = np.random.default_rng(seed)
    videos = videos or {
        'vid_a': ('Validation', 30.0, [('Jump', 2.0, 6.0), ('Run', 10.0, 14.0)]),
        'vid_b': ('Validation', 20.0, [('Swim', 3.0, 9.0)]),
        'vid_c': ('Validation', 25.0, [('Throw', 5.0, 8.0)]),
        'vid_d': ('Test', 30.0, [('Throw', 1.0, 4.0), ('Jump', 12.0, 20.0)]),
        'vid_e': ('Test', 15.0, [('Run', 2.0, 5.0)]),
    }
    database = {}
    (root / 'loc').mkdir(parents=True, exist_ok=True)
    with h5py.File(root / 'clip.h5', 'w') as h5:
        for vid, (subset, duration, anns) in videos.items():
            database[vid] = {'subset': subset, 'duration': duration, 'fps': fps,
                             'annotations': [{'label': l, 'segment': [s, e]} for l, s, e in anns]}
            num = int(np.floor((duration - window / (2 * fps)) / (stride / fps))) + 1
            np.save(root / 'loc' / f'{vid}.npy', rng.normal(size=(num, loc_dim)).astype(np.float32))
            h5.create_dataset(vid, data=rng.normal(size=(int(duration * clip_fps) + 1, clip_dim)).astype(np.float32))
    (root / 'ann.json').write_text(json.dumps({'version': 'toy', 'database': database}))
    splits = root / 'splits' / 'train_75_test_25' / 'Toy'
    for part, names in (('train', ['Jump', 'Swim', 'Run']), ('test', ['Throw'])):
        (splits / part).mkdir(parents=True, exist_ok=True)
        (splits / part / 'split_0.list').write_text('\n'.join(names) + '\n')
    return dict(
        ann_file=str(root / 'ann.json'),
        loc_features=dict(format='npy', root=str(root / 'loc'), dim=loc_dim,
                          timebase=dict(stride=stride, window=window, fps=None)),
        clip_features=dict(format='hdf5', path=str(root / 'clip.h5'), dim=clip_dim,
                           timebase=dict(sample_fps=clip_fps, offset_s=0.0)),
        split=dict(mode='zero_shot', root=str(root / 'splits'), dataset='Toy', ratio=75, index=0))


@pytest.fixture
def tiny_dataset(tmp_path):
    return write_tiny_dataset(tmp_path)


@pytest.fixture(scope='session')
def tiny_clip_model():
    """The in-memory random tiny CLIP (seed 0) that the checkpoint holds."""
    import logging
    from zeetad.text import TINY_CLIP_CONFIG, build_random_clip
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init
    return build_random_clip(TINY_CLIP_CONFIG, seed=0)


@pytest.fixture(scope='session')
def tiny_clip_ckpt(tmp_path_factory, tiny_clip_model):
    """A random tiny CLIP saved to a file, loaded by tests through open_clip's real ``pretrained=PATH`` path."""
    from zeetad.text import TINY_CLIP_CONFIG, make_random_clip_checkpoint
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'
    return make_random_clip_checkpoint(str(path), TINY_CLIP_CONFIG, model=tiny_clip_model)


@pytest.fixture(scope='session')
def synthetic_small(tmp_path_factory, tiny_clip_ckpt):
    """A small synthetic THUMOS14-shaped dataset (40 real videos' timings, 32-d localisation features)."""
    from zeetad.datasets.synthetic import SyntheticConfig
    from zeetad.datasets.synthetic_io import load_source_records, write_synthetic_dataset
    from zeetad.text import TINY_CLIP_CONFIG
    from zeetad.text.encode import encode_class_names
    out = tmp_path_factory.mktemp('synthetic')
    records = load_source_records(str(ROOT / 'data/thumos14/annotations/thumos14.json'), None, 40)
    text_cfg = dict(type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG, pretrained=tiny_clip_ckpt)
    cfg = SyntheticConfig(loc_dim=32, seed=0)
    write_synthetic_dataset(records, str(out), cfg, lambda names: encode_class_names(text_cfg, names), text_cfg,
                            progress=False)
    return dict(root=out, ann_file=str(out / 'annotations.json'), loc_root=str(out / 'features' / 'loc'),
                clip_path=str(out / 'features' / 'clip.h5'), clip_ckpt=tiny_clip_ckpt, loc_dim=32, clip_dim=256,
                text_cfg=text_cfg)
