"""Schedules that follow the data: ``train_cfg.target_iters`` sets the epoch count and scales the milestones."""
import json
import logging
from pathlib import Path

import pytest

from zeetad.engine.schedule import resolve_epochs, scale_epoch_schedulers

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py')


def test_resolve_epochs_comes_closest_to_the_target():
    assert resolve_epochs(700, 141) == 5          # the demo on its own data: unchanged
    assert resolve_epochs(700, 14) == 50          # a 10x smaller dataset: 10x the epochs
    assert resolve_epochs(700, 1410) == 1         # a 10x larger one: at least one epoch
    assert resolve_epochs(4400, 273) == 16        # THUMOS14's recipe
    assert resolve_epochs(4400, 35, world_size=8) == 16  # 8 processes split each epoch: same epochs, same samples
    for bad in (0, -5, 7.5, None, True):
        with pytest.raises(ValueError, match='train_cfg.target_iters'):
            resolve_epochs(bad, 10)
    with pytest.raises(ValueError, match='empty'):
        resolve_epochs(700, 0)


def test_epoch_schedulers_scale_and_iteration_ones_stay():
    schedulers = [dict(type='LinearLR', by_epoch=False, begin=0, end=50),
                  dict(type='MultiStepLR', by_epoch=True, milestones=[14], gamma=0.1),
                  dict(type='CosineAnnealingLR', begin=2, end=16, T_max=14)]  # by_epoch defaults to True
    scaled = scale_epoch_schedulers(schedulers, 0.5, 8)
    assert scaled[0] == schedulers[0]
    assert scaled[1]['milestones'] == [7] and scaled[1]['gamma'] == 0.1
    assert (scaled[2]['begin'], scaled[2]['end'], scaled[2]['T_max']) == (1, 8, 7)
    assert schedulers[1]['milestones'] == [14]  # the config itself is not modified
    # 10x the epochs: the decay stays at 4/5 of training; milestones never pass the end
    assert scale_epoch_schedulers([dict(type='MultiStepLR', milestones=[4, 5])], 10.0, 50)[0]['milestones'] == [40, 50]
    assert scale_epoch_schedulers(dict(type='MultiStepLR', milestones=[3]), 0.1, 1)['milestones'] == [1]


def _demo_on_tiny_data(tiny_dataset, clip_ckpt, work_dir, **train_cfg):
    from zeetad.engine.runner_setup import load_config
    options = {'model.localizer.loc_dim': 8, 'model.localizer.clip_dim': 6,
               'model.classifier.text_encoder.pretrained': clip_ckpt,
               'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
               'train_dataloader.persistent_workers': False, 'train_dataloader.dataset.window_size': 16,
               'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None}
    for key, value in tiny_dataset.items():
        options[f'train_dataloader.dataset.{key}'] = value
    options.update({f'train_dataloader.dataset.split.{k}': v for k, v in tiny_dataset['split'].items()})
    options.update({f'train_cfg.{k}': v for k, v in train_cfg.items()})
    return load_config(DEMO, options, work_dir=str(work_dir))


def _built_loop(cfg):
    from mmengine.runner import Runner

    import zeetad.engine  # noqa: F401
    from zeetad.engine.runner_setup import apply_engine_defaults
    apply_engine_defaults(cfg)
    Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
    runner = Runner.from_cfg(cfg)
    return runner, runner.train_loop


def test_inheriting_the_demo_onto_a_tiny_dataset_trains_the_demo_iterations(tiny_dataset, tiny_clip_ckpt, tmp_path):
    """The issue's new-user case: the demo's 5 epochs on a far smaller dataset were far fewer iterations."""
    runner, loop = _built_loop(_demo_on_tiny_data(tiny_dataset, tiny_clip_ckpt, tmp_path / 'w'))
    per_epoch = len(loop.dataloader)
    assert per_epoch < 141 / 10  # the tiny dataset is > 10x smaller than the demo's
    assert abs(loop.max_iters - 700) <= per_epoch / 2 and loop.max_epochs == loop.max_iters // per_epoch
    # the learning-rate step stays at 4/5 of training, still as epochs (built after the loop)
    step = [c for c in runner.param_schedulers if c['type'] == 'MultiStepLR'][0]
    assert step['milestones'] == [round(4 * loop.max_epochs / 5)]
    saved = json.loads((tmp_path / 'w' / 'schedule.json').read_text())
    assert saved['max_iters'] == loop.max_iters and saved['target_iters'] == 700
    assert saved['iters_per_epoch'] == per_epoch


def test_without_a_target_the_epochs_are_as_written_and_the_steps_are_logged(tiny_dataset, tiny_clip_ckpt, tmp_path):
    from mmengine.logging import MMLogger
    runner, loop = _built_loop(_demo_on_tiny_data(tiny_dataset, tiny_clip_ckpt, tmp_path / 'w', target_iters=None,
                                                   max_epochs=3))
    assert loop.max_epochs == 3 and loop.max_iters == 3 * len(loop.dataloader)
    step = [c for c in runner.param_schedulers if c['type'] == 'MultiStepLR'][0]
    assert step['milestones'] == [4]
    log = Path(MMLogger.get_current_instance().log_file).read_text()
    assert f'= {loop.max_iters} iterations' in log and 'set train_cfg.target_iters' in log


@pytest.mark.slow
def test_train_and_test_finds_the_final_checkpoint_of_a_target_schedule(tiny_dataset, tiny_clip_ckpt, tmp_path):
    """The epoch count is resolved at run time: the experiment helper must test (and later reuse) that run."""
    from zeetad.engine.experiments import final_checkpoint, train_and_test
    from zeetad.engine.runner_setup import load_config
    options = {'model.localizer.loc_dim': 8, 'model.localizer.clip_dim': 6, 'model.localizer.d_model': 16,
               'model.localizer.transformer.nhead': 2, 'model.localizer.transformer.enc_layers': 1,
               'model.localizer.transformer.dec_layers': 1, 'model.localizer.transformer.dim_ff': 16,
               'model.localizer.transformer.num_queries': 4, 'model.localizer.actionness.hidden_dim': 8,
               'model.classifier.text_encoder.pretrained': tiny_clip_ckpt,
               'model.classifier.text_encoder.num_adapter_blocks': 0, 'train_cfg.target_iters': 12,
               'default_hooks.checkpoint.max_keep_ckpts': -1, 'split': tiny_dataset['split']}
    for loader in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        options.update({f'{loader}.batch_size': 2, f'{loader}.num_workers': 0,
                        f'{loader}.persistent_workers': False, f'{loader}.dataset.window_size': 16})
        options.update({f'{loader}.dataset.{k}': v for k, v in tiny_dataset.items()})
    work = tmp_path / 'run'
    assert final_checkpoint(load_config(DEMO, options), str(work)) is None  # not known before the run
    train_and_test(DEMO, str(work), options)
    schedule = json.loads((work / 'schedule.json').read_text())
    assert schedule['max_epochs'] != 5  # the configured epochs were not used
    final = work / f'epoch_{schedule["max_epochs"]}.pth'
    assert final.is_file() and final_checkpoint(load_config(DEMO, options), str(work)) == str(final)
    mtime = final.stat().st_mtime
    train_and_test(DEMO, str(work), options)  # complete: only re-tested
    assert final.stat().st_mtime == mtime and not (work / f'epoch_{schedule["max_epochs"] + 1}.pth').exists()
