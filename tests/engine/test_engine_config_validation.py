"""Config mistakes that used to be ignored or to fail late: each is refused at start-up, naming its key."""
import subprocess
import sys
from pathlib import Path

import pytest

from testing_utils import DEMO_CONFIG as DEMO
from testing_utils import ROOT
from testing_utils import config_errors
from testing_utils import config_errors as _errors

from zeetad.engine.config_check import ConfigError, validate_config
from zeetad.engine.runner_setup import build_runner, load_config


@pytest.mark.parametrize('option, value, expected', [
    ('train_dataloader.dataset.split.ratoi', 50, "train_dataloader.dataset.split: unknown key 'ratoi' (did you mean "
                                                 "'ratio'?)"),
    ('split.indx', 3, "test_dataloader.dataset.split: unknown key 'indx' (did you mean 'index'?)"),
    ('test_dataloader.dataset.clip_features.timebase.ofset_s', 0.5,
     "test_dataloader.dataset.clip_features.timebase: unknown key 'ofset_s' (did you mean 'offset_s'?)"),
    ('train_dataloader.dataset.loc_features.timebase.stirde', 8,
     "train_dataloader.dataset.loc_features.timebase: unknown key 'stirde' (did you mean 'stride'?)"),
    ('train_dataloader.dataset.loc_features.formt', 'npy',
     "train_dataloader.dataset.loc_features: unknown key 'formt' (did you mean 'format'?)"),
    ('test_evaluator.nms.sigam', 0.5, "test_evaluator.nms: unknown key 'sigam' (did you mean 'sigma'?)"),
    ('val_evaluator.nms.method', 'gausian', "val_evaluator: post-processing fails"),
])
def test_typos_in_nested_dicts_are_named(options, option, value, expected):
    assert expected in _errors(options, **{option: value})


@pytest.mark.parametrize('option, value', [
    ('train_dataloader.batch_size', '16'), ('train_cfg.max_epochs', '3'), ('model.localizer.d_model', '256'),
    ('model.localizer.loc_dim', 'abc'), ('optim_wrapper.optimizer.lr', '2e-4'),
    ('train_dataloader.dataset.window_overlap', '0.75'), ('model.localizer.fuse_clip', 'False'),
])
def test_strings_where_numbers_belong_are_named(options, option, value):
    message = _errors(options, **{option: value})
    kind = 'True or False' if value == 'False' else 'a number'
    assert f"{option}: expected {kind}, got the string '{value}'" in message
    assert message.count(f'{option}:') == 1  # one message per key, even where two checks see it


@pytest.mark.parametrize('option, value, expected', [
    ('train_dataloader.dataset.window_size', -8,
     'train_dataloader.dataset.window_size: must be a positive integer or None, got -8'),
    ('test_dataloader.dataset.loc_features.timebase.fps', 0,
     'test_dataloader.dataset.loc_features.timebase.fps: must be a positive number, got 0'),
    ('train_dataloader.batch_size', 0, 'train_dataloader.batch_size: must be an integer >= 1, got 0'),
    ('test_dataloader.batch_size', 2.5, 'test_dataloader.batch_size: must be an integer >= 1, got 2.5'),
    ('train_dataloader.num_workers', -1, 'train_dataloader.num_workers: must be an integer >= 0, got -1'),
    ('optim_wrapper.optimizer.lr', -1e-4, 'optim_wrapper.optimizer.lr: must be a number >= 0, got -0.0001'),
])
def test_out_of_range_dataset_options_are_named(options, option, value, expected):
    assert expected in _errors(options, **{option: value})


@pytest.mark.parametrize('option, expected', [
    ('nonexistent_key', "--cfg-options nonexistent_key: no key 'nonexistent_key' in"),
    ('d_model', "'d_model' in .* nothing reads it; set model.localizer.d_model"),
    ('loc_features.dim', "'loc_features' is a variable of .* changes nothing; set "
                         "test_dataloader.dataset.loc_features.dim"),
    ('trian_cfg.max_epochs', "no key 'trian_cfg' .* \\(did you mean 'train_cfg'\\?\\)"),
])
def test_cfg_options_that_would_change_nothing_are_refused(options, option, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(DEMO, {**options, option: 1})


def test_legacy_top_level_keys_are_named_unless_used(options, tmp_path):
    child = tmp_path / 'child.py'
    child.write_text(f'_base_ = [{DEMO!r}]\noptimizer_config = dict(grad_clip=dict(max_norm=1.0))\n')
    assert 'optimizer_config: an MMCV 1.x key that mmengine ignores; use optim_wrapper' in _errors(options, str(child))
    used = tmp_path / 'used.py'  # a variable of that name that the file does use is fine
    used.write_text(f'_base_ = [{DEMO!r}]\noptimizer = dict(type="AdamW", lr=1e-4)\n'
                    'optim_wrapper = dict(optimizer=optimizer)\n')
    assert validate_config(load_config(str(used), options)) is None


def test_syntax_errors_name_the_file_and_line(tmp_path):
    base = tmp_path / 'base.py'
    base.write_text('a = 1\nmodel = dict(type="ZEETAD"\nb = 2\n')
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['./base.py']\nc = 1\n")
    for path in (base, child):
        with pytest.raises(ConfigError, match=f'{base}:2: syntax error'):
            load_config(str(path))


def test_unreadable_feature_file_is_named_by_the_config_check(options, tiny_dataset):
    first = sorted(Path(tiny_dataset['loc_features']['root']).glob('*.npy'))[0]
    first.write_bytes(b'')
    assert f'train_dataloader.dataset.loc_features: {first}: unreadable .npy file' in _errors(options)


def test_post_processing_is_checked_before_training(options, tmp_path):
    cfg = load_config(DEMO, {**options, 'val_evaluator.nms.method': 'gausian'}, work_dir=str(tmp_path / 'w'))
    with pytest.raises(ConfigError, match="method must be one of"):
        build_runner(cfg)
    assert not (tmp_path / 'w').exists()


@pytest.mark.parametrize('tool', ['train.py', 'detect.py'])
def test_cfg_options_item_without_equals_is_a_usage_error(tool):
    args = [sys.executable, str(ROOT / 'tools' / tool), DEMO, '--cfg-options', 'a=1', 'split.index']
    if tool == 'detect.py':
        args[2:3] = ['x.mp4', '--classes', 'jump']
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "--cfg-options: 'split.index' is not KEY=VALUE" in proc.stderr and 'Traceback' not in proc.stderr


def _cli_options(options: dict, prefix: str = '') -> list:
    """``options`` as ``--cfg-options`` items, nested dicts flattened to dotted keys."""
    items = []
    for key, value in options.items():
        if isinstance(value, dict):
            items += _cli_options(value, f'{prefix}{key}.')
        else:
            items.append(f'{prefix}{key}={value}')
    return items


@pytest.mark.parametrize('tool, args, expected', [
    ('train.py', ['--cfg-options', 'train_dataloader.dataset.split.ratoi=50'],
     "error: invalid config:\n  train_dataloader.dataset.split: unknown key 'ratoi'"),
    ('test.py', ['none', '--cfg-options', 'train_dataloader.batch_size=0'],
     'error: invalid config:\n  train_dataloader.batch_size: must be an integer >= 1, got 0'),
    ('train.py', ['--work-dir', '{tmp}/a_file/wd'], "error: [Errno 20] Not a directory: '{tmp}/a_file/wd'"),
])
def test_tools_print_located_errors_without_a_traceback(tool, args, expected, options, tmp_path):
    """The message names the key or path; the traceback above it only buried it."""
    (tmp_path / 'a_file').write_text('')
    cfg_options = _cli_options(options)
    args = [a.format(tmp=tmp_path) for a in args]
    if '--cfg-options' in args:
        args += cfg_options
    else:
        args += ['--cfg-options'] + cfg_options
    proc = subprocess.run([sys.executable, str(ROOT / 'tools' / tool), DEMO, *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and expected.format(tmp=tmp_path) in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_checkpoint_none_is_refused_for_a_trainable_model(options, tiny_clip_ckpt, tmp_path):
    """"none" (training-free models) on ZEETAD used to test random weights and print a plausible mAP."""
    options = {**options, 'model.classifier.text_encoder.pretrained': tiny_clip_ckpt}
    for loader in ('test_dataloader', 'val_dataloader'):
        options.update({f'{loader}.num_workers': 0, f'{loader}.persistent_workers': False})
    proc = subprocess.run([sys.executable, str(ROOT / 'tools/test.py'), DEMO, 'none', '--work-dir', str(tmp_path / 'w'),
                           '--cfg-options', *_cli_options(options)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-2000:]
    assert 'error: checkpoint "none": ZEETAD has' in proc.stderr and 'trainable parameters' in proc.stderr


@pytest.mark.parametrize('which, extra', [('train_classes', ' jump '), ('test_classes', 'THROW')])
def test_a_custom_split_naming_a_class_twice_is_refused_before_training(options, which, extra):
    """Twice in train_classes trained on a doubled text; twice in test_classes failed after a whole epoch."""
    split = dict(mode='custom', train_classes=['Jump', 'Run'], test_classes=['Throw'])
    split[which].append(extra)
    message = config_errors(options, **{'train_dataloader.dataset.split': split, 'test_dataloader.dataset.split': split,
                                        'val_dataloader.dataset.split': split})
    first = 'Jump' if which == 'train_classes' else 'Throw'
    assert (f"train_dataloader.dataset.split.{which}: class names listed more than once (case and spaces "
            f"ignored): '{first}' and '{extra}'") in message
