"""The CLIP-stream-only configurations: the localisation input is the CLIP frame stream itself.

(tests/visualization/test_vis_runner.py trains, validates and tests the synthetic one end to end.)"""
import os

import pytest

from testing_utils import ROOT


@pytest.mark.parametrize('name,dim', [('zeetad_clip_only_synthetic_thumos14_demo', 256),
                                      ('zeetad_clip_only_thumos14', 512)])
def test_clip_only_config(name, dim):
    from zeetad.apis.detect import _frame_fps, _loc_is_clip
    from zeetad.engine.runner_setup import load_config
    cfg = load_config(os.path.join(ROOT, 'configs', 'zeetad', f'{name}.py'))
    for loader in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        ds = cfg[loader].dataset
        assert ds.loc_features == ds.clip_features  # one HDF5 stream, read twice
        assert ds.loc_features.format == 'hdf5' and ds.loc_features.dim == dim
        assert _loc_is_clip(cfg, ds.loc_features, ds.clip_features) and _frame_fps(ds.loc_features, 'loc') == 2.0
        assert ds.window_size == 64
    loc = cfg.model.localizer
    assert (loc.loc_dim, loc.clip_dim, loc.fuse_clip) == (dim, dim, False)
    assert cfg.visualizer.vis_backends == [dict(type='LocalTensorboardVisBackend', tensorboard=True)]
    assert [h['type'] for h in cfg.custom_hooks] == ['TADVisualizationHook']
    # the hook resolves through the HOOKS registry's locations, no custom_imports needed
    from zeetad.registry import HOOKS
    assert HOOKS.get('TADVisualizationHook') is not None
