"""Config errors fail before anything is built, each naming its key path."""
from pathlib import Path

import numpy as np
import pytest

from testing_utils import DEMO_CONFIG as DEMO
from testing_utils import ROOT
from testing_utils import config_errors as _errors

from zeetad.engine.config_check import ConfigError, accepted_keys, validate_config
from zeetad.engine.runner_setup import build_runner, load_config


def test_consistent_config_passes(options):
    # raises ConfigError on any problem; a consistent config returns None for both stages
    assert validate_config(load_config(DEMO, options)) is None
    assert validate_config(load_config(DEMO, options), stage='test') is None


def test_typo_in_a_nested_key_is_named_with_a_suggestion(options):
    message = _errors(options, **{'model.localizer.transformer.nheads': 2})
    assert "model.localizer.transformer: unknown key 'nheads' for DeformableTransformer1D (did you mean 'nhead'?)" \
        in message


def test_unknown_type_is_named(options):
    message = _errors(options, **{'model.localizer.type': 'DualLocaliser'})
    assert "model.localizer.type: unknown type 'DualLocaliser'" in message and "'DualLocalizer'" in message


def test_several_problems_are_reported_together(options):
    message = _errors(options, **{'train_dataloader.batch_szie': 4, 'optim_wrapper.optimizer.lr_mult': 2,
                                  'param_scheduler.0.endd': 3, 'default_hooks.logger.intervall': 5,
                                  'train_cfg.max_epoch': 3, 'randomness.sed': 1,
                                  'test_evaluator.tious': [0.5]}, top_level={'trian_cfg': {}})
    for expected in ("train_dataloader: unknown key 'batch_szie' for DataLoader (did you mean 'batch_size'?)",
                     "optim_wrapper.optimizer: unknown key 'lr_mult' for AdamW",
                     "param_scheduler[0]: unknown key 'endd' for LinearLR (did you mean 'end'?)",
                     "default_hooks.logger: unknown key 'intervall' for LoggerHook (did you mean 'interval'?)",
                     "train_cfg: unknown key 'max_epoch' for StepsTargetEpochTrainLoop (did you mean 'max_epochs'?)",
                     "randomness: unknown key 'sed' (did you mean 'seed'?)",
                     "trian_cfg: not a runner key (did you mean 'train_cfg'?)",
                     "test_evaluator: unknown key 'tious' for TADMetric"):
        assert expected in message


def test_missing_paths_are_named(options, tmp_path):
    message = _errors(options, **{'train_dataloader.dataset.ann_file': str(tmp_path / 'nope.json'),
                                  'train_dataloader.dataset.loc_features.root': str(tmp_path / 'no_loc'),
                                  'model.classifier.text_encoder.pretrained': str(tmp_path / 'no_clip.pt'),
                                  'load_from': str(tmp_path / 'no_ckpt.pth')})
    assert f'train_dataloader.dataset.ann_file: file not found: {tmp_path / "nope.json"}' in message
    assert 'train_dataloader.dataset.loc_features.root: not found' in message
    assert 'model.classifier.text_encoder.pretrained: file not found' in message
    assert 'load_from: checkpoint not found' in message


def test_test_stage_needs_only_the_test_files(options, tmp_path):
    cfg = load_config(DEMO, {**options, 'train_dataloader.dataset.ann_file': str(tmp_path / 'nope.json')})
    validate_config(cfg, stage='test')
    with pytest.raises(ConfigError, match='train_dataloader.dataset.ann_file'):
        validate_config(cfg, stage='train')


def test_feature_dim_mismatches_are_named(options, tiny_dataset):
    message = _errors(options, **{'model.localizer.loc_dim': 16})
    assert 'model.localizer.loc_dim: 16 does not match train_dataloader.dataset.loc_features.dim=8' in message
    message = _errors(options, **{'model.localizer.clip_dim': 5, 'test_dataloader.dataset.clip_features.dim': 5,
                                  'train_dataloader.dataset.clip_features.dim': 5,
                                  'val_dataloader.dataset.clip_features.dim': 5})
    assert 'train_dataloader.dataset.clip_features.dim: 5 but the stored features have dim 6' in message
    first = sorted(Path(tiny_dataset['loc_features']['root']).glob('*.npy'))[0]
    assert np.load(first).shape[-1] == 8


def test_build_runner_validates_before_creating_anything(options, tmp_path):
    work_dir = tmp_path / 'work'
    cfg = load_config(DEMO, {**options, 'model.localizer.transformer.nheads': 2}, work_dir=str(work_dir))
    with pytest.raises(ConfigError, match='nheads'):
        build_runner(cfg)
    assert not work_dir.exists()


def test_accepted_keys_follow_kwargs_to_the_base_class():
    class Base:
        def __init__(self, a, b=1):
            pass

    class Child(Base):
        def __init__(self, c, **kwargs):
            super().__init__(**kwargs)

    class Open:
        def __init__(self, **kwargs):
            pass

    assert accepted_keys(Child) == {'a', 'b', 'c'}
    assert accepted_keys(Open) is None
    assert accepted_keys(lambda x, y=2: None) == {'x', 'y'}


def test_every_shipped_config_has_no_structural_errors():
    """Typos and unknown types only: the real datasets are not on this machine."""
    for path in sorted((ROOT / 'configs').glob('*/*.py')):
        if path.parent.name == '_base_':
            continue
        try:
            validate_config(load_config(str(path)))
        except ConfigError as exc:
            structural = [line for line in str(exc).splitlines()[1:]
                          if 'not found' not in line and 'stored features' not in line]
            assert not structural, f'{path.name}: {structural}'


def test_one_dimensional_features_are_named_as_such(options, tiny_dataset, tmp_path):
    # a 1-D array used to be read as "dim = its length" (e.g. "stored features have dim 252")
    root = tmp_path / 'loc_1d'
    root.mkdir()
    for src in sorted(Path(tiny_dataset['loc_features']['root']).glob('*.npy')):
        np.save(root / src.name, np.load(src)[:, 0])
    message = _errors(options, **{'train_dataloader.dataset.loc_features.root': str(root)})
    first = sorted(root.glob('*.npy'))[0]
    assert f'{first}: features must be a 2-D (T, C) array, got shape ({len(np.load(first))},)' in message
    assert 'stored features have dim' not in message
