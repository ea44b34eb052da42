"""Exact resume and determinism with a toy model (dropout + numpy data noise): fast, in-process."""
import os
import random
import shutil

import numpy as np
import pytest
import torch
from dist_toy_components import toy_config, weights

from zeetad.engine import capture_rng_state, load_checkpoint_file, restore_rng_state
from zeetad.engine.runner_setup import build_runner


def _train(work_dir, resume=None, **kwargs):
    runner = build_runner(toy_config(str(work_dir), **kwargs), resume=resume)
    runner.train()
    return runner


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_rng_state_round_trip_through_a_safe_checkpoint(tmp_path):
    random.seed(3), np.random.seed(3), torch.manual_seed(3)
    state = capture_rng_state()
    expected = (random.random(), np.random.normal(size=3), torch.rand(3))
    path = tmp_path / 'rng.pth'
    torch.save({'rng_state': state}, path)
    assert torch.load(path, weights_only=True)  # plain weights_only loading: no extra types needed
    restore_rng_state(load_checkpoint_file(str(path))['rng_state'])
    again = (random.random(), np.random.normal(size=3), torch.rand(3))
    assert again[0] == expected[0]
    assert np.array_equal(again[1], expected[1])
    assert torch.equal(again[2], expected[2])


def test_same_seed_gives_identical_runs_and_another_seed_does_not(tmp_path):
    a = weights(_train(tmp_path / 'a', max_epochs=1))
    b = weights(_train(tmp_path / 'b', max_epochs=1))
    c = weights(_train(tmp_path / 'c', max_epochs=1, seed=1))
    _assert_same(a, b)
    assert not torch.equal(a['net.0.weight'], c['net.0.weight'])


def test_mid_epoch_resume_equals_uninterrupted_run(tmp_path):
    full = _train(tmp_path / 'full')
    assert full.iter == 8
    # A crash after iteration 6 (epoch 2, batch 2): only the checkpoints up to then exist in the new work dir.
    crashed = tmp_path / 'crashed'
    crashed.mkdir()
    for n in range(1, 7):
        shutil.copy(tmp_path / 'full' / f'iter_{n}.pth', crashed / f'iter_{n}.pth')
    resumed = _train(crashed, resume='auto')
    assert resumed.iter == 8  # mmengine's own loop would retrain the epoch's first batches (10 iterations)
    _assert_same(weights(full), weights(resumed))
    ckpt = load_checkpoint_file(str(tmp_path / 'full' / 'iter_6.pth'))
    assert {'python', 'numpy', 'torch'} <= set(ckpt['rng_state'])
    assert ckpt['meta']['world_size'] == 1 and ckpt['meta']['saved_by_rank'] == 0


def test_mid_epoch_resume_with_persistent_workers_trains_each_remaining_batch_once(tmp_path):
    full = _train(tmp_path / 'full', num_workers=2)
    crashed = tmp_path / 'crashed'
    crashed.mkdir()
    shutil.copy(tmp_path / 'full' / 'iter_5.pth', crashed / 'iter_5.pth')
    resumed = _train(crashed, resume='auto', num_workers=2)
    assert resumed.iter == 8
    # the workers' noise restarts with them (documented), but the batches are exactly the remaining ones
    assert resumed.model.seen == full.model.seen[5:]
    for runner in (full, resumed):  # stop the persistent workers now rather than at some later collection
        iterator = runner.train_dataloader._iterator
        if iterator is not None:
            iterator._shutdown_workers()


def test_mid_epoch_resume_continues_the_ema_weights(tmp_path):
    ema = [dict(type='EMAHook', momentum=0.1)]
    full = _train(tmp_path / 'full', hooks=ema)
    crashed = tmp_path / 'crashed'
    crashed.mkdir()
    shutil.copy(tmp_path / 'full' / 'iter_3.pth', crashed / 'iter_3.pth')
    resumed = _train(crashed, resume='auto', hooks=ema)
    _assert_same(load_checkpoint_file(str(tmp_path / 'full' / 'iter_8.pth'))['ema_state_dict'],
                 load_checkpoint_file(str(crashed / 'iter_8.pth'))['ema_state_dict'])
    _assert_same(weights(full), weights(resumed))


def test_epoch_end_resume_with_validation_in_between_is_exact(tmp_path):
    full = _train(tmp_path / 'full', by_epoch_ckpt=True, validate=True, max_epochs=3)
    crashed = tmp_path / 'crashed'
    crashed.mkdir()
    shutil.copy(tmp_path / 'full' / 'epoch_1.pth', crashed / 'epoch_1.pth')
    resumed = _train(crashed, resume=str(crashed / 'epoch_1.pth'), by_epoch_ckpt=True, validate=True,
                     max_epochs=3)
    _assert_same(weights(full), weights(resumed))


def test_load_from_without_resume_starts_fresh(tmp_path):
    _train(tmp_path / 'first', max_epochs=1)
    cfg = toy_config(str(tmp_path / 'second'), max_epochs=1)
    cfg.load_from = str(tmp_path / 'first' / 'iter_4.pth')
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 4  # fine-tuning from weights: counters and RNG are not taken over
    assert os.path.isfile(tmp_path / 'second' / 'iter_4.pth')


def test_missing_resume_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        build_runner(toy_config(str(tmp_path)), resume=str(tmp_path / 'nope.pth'))
