"""Non-finite losses: the update is skipped, training stops naming iteration and term (or goes on, by config)."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from dist_toy_components import toy_config, weights
from mmengine.optim import OptimWrapper

from zeetad.engine import GuardedOptimWrapper, NonFiniteLossHook
from zeetad.engine.runner_setup import build_runner

HERE = Path(__file__).resolve().parent


def _wrapper(**kwargs):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    return model, GuardedOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_guarded_wrapper_skips_non_finite_loss_and_steps_on_finite():
    model, wrapper = _wrapper()
    before = model.weight.detach().clone()
    loss = model(torch.ones(2, 3)).sum() * float('nan')
    wrapper.update_params(loss)
    assert wrapper.skipped_last and wrapper.num_skipped == 1
    assert torch.equal(model.weight, before)
    assert model.weight.grad is None or not model.weight.grad.any()
    wrapper.update_params(model(torch.ones(2, 3)).sum())
    assert not wrapper.skipped_last
    assert torch.allclose(model.weight, before - 0.1 * 2 * torch.ones(1, 3))


def test_guarded_wrapper_keeps_gradient_accumulation_aligned():
    model, wrapper = _wrapper(accumulative_counts=2)
    wrapper.initialize_count_status(model, 0, 4)
    before = model.weight.detach().clone()
    wrapper.update_params(model(torch.ones(1, 3)).sum())          # micro-step 1 of 2: accumulate
    wrapper.update_params(model(torch.ones(1, 3)).sum() * float('inf'))  # micro-step 2: bad, group dropped
    assert torch.equal(model.weight, before) and model.weight.grad is None  # set_to_none
    wrapper.update_params(model(torch.ones(1, 3)).sum())          # next group starts clean
    wrapper.update_params(model(torch.ones(1, 3)).sum())
    # each micro-step's loss is divided by 2: the group's gradient is ones(1, 3)
    assert torch.allclose(model.weight, before - 0.1 * torch.ones(1, 3))


def test_hook_rejects_unknown_action():
    with pytest.raises(ValueError, match='raise.*skip'):
        NonFiniteLossHook(action='ignore')


def test_training_stops_naming_iteration_and_term(tmp_path):
    # sample 5 lands in one (shuffled) batch of the epoch
    cfg = toy_config(str(tmp_path), max_epochs=1, nan_at=[5])
    runner = build_runner(cfg)
    with pytest.raises(FloatingPointError, match=r'non-finite loss at iteration \d \(epoch 1, batch \d\): '
                                                 r'.*loss_bad=nan.*the update was skipped'):
        runner.train()
    assert isinstance(runner.optim_wrapper, GuardedOptimWrapper)
    assert all(torch.isfinite(v).all() for v in weights(runner).values())
    failed = runner.iter + 1
    assert not (tmp_path / f'iter_{failed}.pth').exists()  # no checkpoint of the failed iteration


def test_skip_action_trains_on(tmp_path):
    runner = build_runner(toy_config(str(tmp_path), max_epochs=2, nan_at=[5], guard=dict(action='skip')))
    runner.train()
    assert runner.iter == 8 and runner.optim_wrapper.num_skipped == 2  # once per epoch
    assert all(torch.isfinite(v).all() for v in weights(runner).values())


@pytest.mark.filterwarnings('ignore:Detected call of:UserWarning')  # no optimizer step ever happens
def test_skip_action_gives_up_after_too_many_in_a_row(tmp_path):
    cfg = toy_config(str(tmp_path), max_epochs=1, nan_at=list(range(16)), guard=dict(action='skip',
                                                                                        max_consecutive=2))
    with pytest.raises(FloatingPointError, match='iteration 3 '):
        build_runner(cfg).train()


def test_unguarded_custom_wrapper_still_stops(tmp_path):
    from mmengine.registry import OPTIM_WRAPPERS

    @OPTIM_WRAPPERS.register_module(force=True)
    class DistToyPlainWrapper(OptimWrapper):
        pass

    cfg = toy_config(str(tmp_path), max_epochs=1, nan_at=[5], optim_type='DistToyPlainWrapper')
    with pytest.raises(FloatingPointError, match='already applied'):
        build_runner(cfg).train()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_guard_skips_on_every_rank_and_names_the_rank(tmp_path):
    """torchrun, 2 CPU processes (gloo, although the config asks for nccl); sample 5 reaches rank 1 only."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={_free_port()}',
           str(HERE / 'ddp_toy_guard_script.py'), str(tmp_path), '5']
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [torch.load(tmp_path / f'skip_rank{r}.pt') for r in (0, 1)]
    for state in ranks:
        assert state['backend'] == 'gloo' and state['device_ids'] is None
        assert state['wrapper'] == 'MMDistributedDataParallel' and state['skipped'] == 1
        assert torch.isfinite(state['weight']).all()
    assert torch.equal(ranks[0]['weight'], ranks[1]['weight'])  # every rank skipped the same update
    for r in (0, 1):
        message = (tmp_path / f'raise_rank{r}.txt').read_text()
        assert 'non-finite loss at iteration 2 (epoch 1, batch 2)' in message
        assert 'loss_bad=nan on rank 1' in message
    assert sorted(p.name for p in (tmp_path / 'skip').glob('*.pth')) == ['epoch_1.pth']
