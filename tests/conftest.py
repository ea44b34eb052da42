"""Shared fixtures: tiny datasets in the real on-disk formats."""
import os
import sys

import pytest

from testing_utils import ROOT, write_tiny_dataset  # noqa: F401 (re-exported for fixtures)

sys.path.insert(0, str(ROOT))
os.environ.setdefault('OMP_NUM_THREADS', '2')


@pytest.fixture
def tiny_dataset(tmp_path):
    return write_tiny_dataset(tmp_path)


@pytest.fixture
def options(tiny_dataset, tmp_path):
    """``--cfg-options`` pointing the synthetic demo config at ``tiny_dataset`` (``tiny_config_options``)."""
    from testing_utils import tiny_config_options
    return tiny_config_options(tiny_dataset, tmp_path)


@pytest.fixture(scope='session')
def tiny_clip_model():
    """The in-memory random tiny CLIP (seed 0) that the checkpoint holds."""
    import logging
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, build_random_clip
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init
    return build_random_clip(TINY_CLIP_CONFIG, seed=0)


@pytest.fixture(scope='session')
def tiny_clip_ckpt(tmp_path_factory, tiny_clip_model):
    """A random tiny CLIP saved to a file, loaded by tests through open_clip's real ``pretrained=PATH`` path."""
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, make_random_clip_checkpoint
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'
    return make_random_clip_checkpoint(str(path), TINY_CLIP_CONFIG, model=tiny_clip_model)


@pytest.fixture(scope='session')
def synthetic_small(tmp_path_factory, tiny_clip_ckpt):
    """A small synthetic THUMOS14-shaped dataset (40 real videos' timings, 32-d localisation features)."""
    from zeetad.datasets.synthetic import SyntheticConfig
    from zeetad.datasets.synthetic_io import load_source_records, write_synthetic_dataset
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
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
