"""``model_ema``: mmengine's EMAHook on the ZEETAD model, through zeetad's checkpoint hooks, resume and testing."""
import shutil

import pytest
import torch

from zeetad.engine import load_checkpoint_file
from zeetad.engine.runner_setup import apply_engine_defaults, build_runner, load_config
from testing_utils import write_tiny_training_config

MOMENTUM = 0.25
EXTRA = f"""
train_cfg = dict(max_epochs=2, val_interval=100, target_iters=None)
default_hooks = dict(checkpoint=dict(interval=1, by_epoch=False, max_keep_ckpts=20))
model_ema = dict(momentum={MOMENTUM})
val_cfg = None
val_dataloader = None
val_evaluator = None
"""


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('ema')
    config = write_tiny_training_config(root, EXTRA, max_videos=4, test_videos=2)
    runner = build_runner(load_config(str(config), work_dir=str(root / 'full')))
    runner.train()
    return config, root, runner.iter


def _raw(ckpt: dict) -> dict:
    """The training weights of an EMA checkpoint: mmengine swaps them into ``ema_state_dict`` ('module.' keys)."""
    return {k[len('module.'):]: v for k, v in ckpt['ema_state_dict'].items() if k.startswith('module.')}


def test_model_ema_adds_the_hook_once():
    from mmengine.config import Config
    cfg = Config(dict(model_ema=dict(momentum=0.1), custom_hooks=[], train_cfg=dict(max_epochs=1)))
    apply_engine_defaults(cfg)
    assert [h for h in cfg.custom_hooks if h['type'] == 'EMAHook'] == [dict(type='EMAHook', momentum=0.1)]
    cfg = Config(dict(model_ema=dict(momentum=0.1), custom_hooks=[dict(type='EMAHook', momentum=0.5)]))
    apply_engine_defaults(cfg)
    assert [h['momentum'] for h in cfg.custom_hooks if h['type'] == 'EMAHook'] == [0.5]  # the explicit one wins
    cfg = Config(dict(custom_hooks=[]))
    apply_engine_defaults(cfg)
    assert not any(h['type'] == 'EMAHook' for h in cfg.custom_hooks)  # default: no EMA


@pytest.mark.slow  # trains the tiny model for 2 epochs (~15 s of CPU)
def test_checkpoints_hold_the_hand_computed_average(trained):
    config, root, iters = trained
    assert iters >= 3
    first, second = (load_checkpoint_file(str(root / 'full' / f'iter_{i}.pth')) for i in (1, 2))
    raw1, raw2 = _raw(first), _raw(second)
    assert raw1.keys() == first['state_dict'].keys()
    # step 1 copies the weights, step 2 moves them by the momentum toward the new ones
    for key, value in first['state_dict'].items():
        assert torch.equal(value, raw1[key]), key
    moved = 0
    for key, value in second['state_dict'].items():
        if value.is_floating_point():
            expected = (1 - MOMENTUM) * raw1[key] + MOMENTUM * raw2[key]
            torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-7)
            moved += not torch.equal(raw1[key], raw2[key])
    assert moved > 10  # the average is not trivially the weights themselves
    tower = [k for k in raw2 if k.startswith('classifier.text_encoder.tower.')]
    assert tower and all(torch.equal(second['state_dict'][k], raw1[k]) for k in tower)  # frozen CLIP: unchanged


@pytest.mark.slow
def test_resume_continues_the_average_exactly(trained, tmp_path):
    config, root, iters = trained
    crashed = tmp_path / 'crashed'
    crashed.mkdir()
    shutil.copy(root / 'full' / 'iter_2.pth', crashed / 'iter_2.pth')
    runner = build_runner(load_config(str(config), work_dir=str(crashed)), resume='auto')
    runner.train()
    full = load_checkpoint_file(str(root / 'full' / f'iter_{iters}.pth'))
    resumed = load_checkpoint_file(str(crashed / f'iter_{iters}.pth'))
    for part in ('state_dict', 'ema_state_dict'):
        assert full[part].keys() == resumed[part].keys()
        for key in full[part]:
            assert torch.equal(full[part][key], resumed[part][key]), (part, key)


@pytest.mark.slow
def test_testing_uses_the_averaged_weights_with_or_without_the_hook(trained, tmp_path):
    config, root, iters = trained
    ckpt = str(root / 'full' / f'iter_{iters}.pth')
    state = load_checkpoint_file(ckpt)['state_dict']
    results = []
    for ema in (True, False):
        cfg = load_config(str(config), work_dir=str(tmp_path / str(ema)))
        if not ema:
            cfg.model_ema = None
        cfg.load_from = ckpt
        cfg.test_evaluator['result_dir'] = str(tmp_path / str(ema))
        runner = build_runner(cfg, stage='test')
        results.append(runner.test())
        for key, value in runner.model.state_dict().items():  # after the test: the checkpoint's EMA weights
            assert torch.equal(value, state[key]), key
    assert results[0] == results[1]
    assert any(not torch.equal(v, _raw(load_checkpoint_file(ckpt))[k]) for k, v in state.items())
