"""Evaluation settings of the shipped configs."""
import numpy as np
import pytest
from mmengine.config import Config

from testing_utils import ROOT


@pytest.mark.parametrize('path', ['_base_/datasets/activitynet_tsp_clip.py', 'zeetad/zeetad_anet_tsp_clip.py'])
def test_activitynet_configs_use_the_official_tiou_grid_exactly(path):
    cfg = Config.fromfile(str(ROOT / 'configs' / path))
    official = [float(t) for t in np.linspace(0.5, 0.95, 10)]
    for evaluator in (cfg.test_evaluator, cfg.val_evaluator):
        assert list(evaluator['tiou_thresholds']) == official  # exact floats: 0.8999999999999999, not 0.9
        assert all(type(t) is float for t in evaluator['tiou_thresholds'])
