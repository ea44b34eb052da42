"""The shipped model config and the code agree: what configs/_base_/models/zeetad.py writes is what the classes
default to, so a model built from code alone is the model the configs train and test."""
import inspect

import pytest
from mmengine.config import Config

from testing_utils import ROOT

BASE = ROOT / 'configs' / '_base_' / 'models' / 'zeetad.py'


def _disagreements(cfg: dict, path: str) -> list:
    """``'key: code X, config Y'`` for every argument of ``cfg`` (recursively, through nested ``type`` dicts)
    whose constructor default differs from the value the config writes."""
    import zeetad.models  # noqa: F401  (registers the classes)
    from zeetad.models.zeetad import DEFAULT_TEST_CFG
    from zeetad.registry import MODELS
    params = inspect.signature(MODELS.get(cfg['type']).__init__).parameters
    out = []
    for key, value in cfg.items():
        if key == 'type':
            continue
        if key not in params:
            out.append(f'{path}.{key}: not an argument of {cfg["type"]}')
        elif isinstance(value, dict) and 'type' in value:
            out += _disagreements(value, f'{path}.{key}')
        elif key == 'test_cfg':
            out += [f'{path}.test_cfg.{k}: code {DEFAULT_TEST_CFG.get(k, "<missing>")!r}, config {v!r}'
                    for k, v in value.items() if DEFAULT_TEST_CFG.get(k, '<missing>') != v]
        elif key == 'loss_weights':
            from zeetad.models.losses import DEFAULT_LOSS_WEIGHTS
            out += [f'{path}.loss_weights.{k}: code {DEFAULT_LOSS_WEIGHTS.get(k)!r}, config {v!r}'
                    for k, v in value.items() if DEFAULT_LOSS_WEIGHTS.get(k) != v]
        elif params[key].default is not inspect.Parameter.empty and params[key].default != value:
            out.append(f'{path}.{key}: code {params[key].default!r}, config {value!r}')
    return out


def test_shipped_model_config_equals_the_code_defaults():
    model = Config.fromfile(str(BASE)).model.to_dict()
    # The classifier's text tower (which CLIP, its weights, how many adapters, the initial scale and bias
    # for that CLIP) is a choice each config makes for its CLIP, not a default of the class.
    model.pop('classifier')
    assert _disagreements(model, 'model') == []


def test_every_test_time_option_is_written_in_the_shipped_config():
    from zeetad.models.zeetad import DEFAULT_TEST_CFG
    written = Config.fromfile(str(BASE)).model.test_cfg
    assert {'class_score', 'autocast', 'topk', 'score_fusion'} <= set(written) <= set(DEFAULT_TEST_CFG)


def test_code_built_model_scores_as_the_shipped_config(tiny_clip_ckpt):
    """Built without any test_cfg, ZEETAD tests with the shipped scoring (softmax, autocast 'auto')."""
    from testing_utils import tiny_model_cfg
    import zeetad.models  # noqa: F401
    from zeetad.registry import MODELS
    cfg = tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt)
    cfg.pop('test_cfg', None)
    model = MODELS.build(cfg)
    assert model.test_cfg['class_score'] == 'softmax' and model.test_cfg['autocast'] == 'auto'


@pytest.mark.parametrize('key,value', [('class_score', 'sigmoid'), ('autocast', 'bfloat16')])
def test_a_config_value_that_differs_is_reported(key, value):
    model = Config.fromfile(str(BASE)).model.to_dict()
    model.pop('classifier')
    model['test_cfg'][key] = value
    assert [d.split(':')[0] for d in _disagreements(model, 'model')] == [f'model.test_cfg.{key}']
