"""Process-group set-up on CPU, config adaptation for DDP, AMP switch, CLI parsing, engine defaults."""
import importlib.util
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from zeetad.engine.distributed import finalize_distributed, init_distributed, prepare_distributed
from zeetad.engine.runner_setup import apply_engine_defaults, enable_amp

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def one_process_env(monkeypatch):
    port = _free_port()
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(port))
    for key, value in (('RANK', '0'), ('LOCAL_RANK', '0'), ('WORLD_SIZE', '1')):
        monkeypatch.setenv(key, value)
    yield port
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'zeetad_tool_{name}', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU path')
def test_cpu_launch_uses_gloo_and_ddp_without_device_ids(one_process_env, tmp_path):
    cfg = Config(dict(launcher='pytorch', work_dir=str(tmp_path), env_cfg=dict(dist_cfg=dict(backend='nccl')),
                      test_evaluator=dict(type='TADMetric'), val_evaluator=[dict(type='TADMetric')]))
    prepare_distributed(cfg)  # mmengine's init_dist would call torch.cuda.set_device here and fail
    assert torch_dist.is_initialized() and torch_dist.get_backend() == 'gloo'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None
    collect = str(tmp_path / f'.dist_collect_{one_process_env}')
    assert cfg.test_evaluator.collect_dir == collect and cfg.val_evaluator[0].collect_dir == collect
    assert init_distributed('pytorch') == 'gloo'  # already initialised: a no-op
    finalize_distributed()
    assert not torch_dist.is_initialized()
    finalize_distributed()  # and again: nothing to do


def test_missing_launcher_variables_are_named(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match=r"\['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'\]"):
        init_distributed('pytorch')
    with pytest.raises(ValueError, match='launcher'):
        init_distributed('none')


def test_torchrun_without_launcher_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(RuntimeError, match='--launcher pytorch'):
        prepare_distributed(Config(dict(launcher='none', work_dir=str(tmp_path))))


def test_slurm_variables_become_torch_ones(monkeypatch, one_process_env):
    from zeetad.engine.distributed import _slurm_env
    monkeypatch.delenv('RANK'), monkeypatch.delenv('WORLD_SIZE'), monkeypatch.delenv('LOCAL_RANK')
    monkeypatch.setenv('SLURM_PROCID', '5')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[1-2]')
    _slurm_env()
    import os
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('5', '8', '1')
    assert os.environ['MASTER_ADDR'] == '127.0.0.1'  # an explicit address is kept


def test_amp_on_cpu_fails_clearly(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
        enable_amp(Config(dict(optim_wrapper=dict(type='OptimWrapper'))))


@pytest.mark.parametrize('request_dtype, bf16, expected', [('auto', True, 'bfloat16'), ('auto', False, 'float16'),
                                                           ('fp16', True, 'float16')])
def test_amp_sets_the_guarded_amp_wrapper(monkeypatch, request_dtype, bf16, expected):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_bf16_supported', lambda *a, **k: bf16)
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW')), train_cfg={}))
    assert enable_amp(cfg, request_dtype) == expected
    apply_engine_defaults(cfg)
    assert cfg.optim_wrapper.type == 'GuardedAmpOptimWrapper' and cfg.optim_wrapper.dtype == expected
    with pytest.raises(ValueError, match='fp32'):
        enable_amp(cfg, 'fp32')


def test_engine_defaults_respect_the_config():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper'), train_cfg=dict(by_epoch=True, max_epochs=2),
                      custom_hooks=[dict(type='NonFiniteLossHook', action='skip')]))
    apply_engine_defaults(cfg)
    apply_engine_defaults(cfg)  # idempotent
    assert cfg.optim_wrapper.type == 'GuardedOptimWrapper'
    assert cfg.train_cfg == dict(type='ResumableEpochBasedTrainLoop', max_epochs=2)
    assert cfg.custom_hooks == [dict(type='NonFiniteLossHook', action='skip'), dict(type='CheckpointFitHook'),
                                dict(type='RNGStateHook')]
    assert cfg.default_hooks.checkpoint == dict(type='SafeCheckpointHook')
    iters = Config(dict(optim_wrapper=dict(type='zeetad.SomeOtherWrapper'),
                        train_cfg=dict(type='IterBasedTrainLoop', max_iters=5)))
    apply_engine_defaults(iters)
    assert iters.optim_wrapper.type == 'zeetad.SomeOtherWrapper' and iters.train_cfg.type == 'IterBasedTrainLoop'
    test_only = Config(dict(test_cfg=dict(type='TestLoop')))
    apply_engine_defaults(test_only)
    assert test_only.custom_hooks == [dict(type='CheckpointFitHook')]
    kept = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', max_keep_ckpts=1))))
    apply_engine_defaults(kept)
    assert kept.default_hooks.checkpoint == dict(type='SafeCheckpointHook', max_keep_ckpts=1)


def test_cli_flags(monkeypatch):
    for name, value in (('RANK', '0'), ('WORLD_SIZE', '1'), ('MASTER_ADDR', '127.0.0.1'), ('MASTER_PORT', '29500'),
                        ('SLURM_PROCID', '0'), ('SLURM_NTASKS', '1'), ('SLURM_NODELIST', 'node1')):
        monkeypatch.setenv(name, value)  # what torchrun / srun set
    train = _tool('train')
    args = train.parse_args(['cfg.py', '--resume', '--amp'])
    assert args.resume == 'auto' and args.amp == 'auto' and args.launcher == 'none'
    args = train.parse_args(['cfg.py', '--resume', 'w/iter_4.pth', '--amp', 'bf16', '--auto-scale-lr',
                             '--launcher', 'pytorch'])
    assert (args.resume, args.amp, args.auto_scale_lr, args.launcher) == ('w/iter_4.pth', 'bf16', True, 'pytorch')
    args = _tool('test').parse_args(['cfg.py', 'ckpt.pth', '--launcher', 'slurm', '--out', 'p.json'])
    assert (args.checkpoint, args.launcher, args.out) == ('ckpt.pth', 'slurm', 'p.json')


@pytest.mark.parametrize('tool, launcher, missing', [('train', 'pytorch', 'RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT'),
                                                    ('test', 'slurm', 'SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST')])
def test_launcher_without_its_launch_program_is_a_usage_error(tool, launcher, missing, monkeypatch, capsys):
    for name in missing.split(', '):
        monkeypatch.delenv(name, raising=False)
    argv = ['cfg.py'] + (['ckpt.pth'] if tool == 'test' else []) + ['--launcher', launcher]
    with pytest.raises(SystemExit) as info:
        _tool(tool).parse_args(argv)
    assert info.value.code == 2
    assert f'--launcher {launcher}: {missing} not set' in capsys.readouterr().err


def test_amp_on_cpu_is_a_one_line_error_of_the_tool(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    config = ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py'
    assert _tool('train').cli([str(config), '--amp', '--work-dir', str(tmp_path / 'w')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('error: --amp needs a CUDA GPU') and not any('Traceback' in line for line in err)


def test_launch_scripts_are_executable_and_valid_bash():
    import os
    import subprocess
    for name in ('dist_train.sh', 'dist_test.sh', 'dist_run.sh', 'slurm_train.sh'):
        path = ROOT / 'tools' / name
        assert os.access(path, os.X_OK), name
        assert subprocess.run(['bash', '-n', str(path)]).returncode == 0
        usage = subprocess.run(['bash', str(path)], capture_output=True, text=True)
        assert usage.returncode == 2 and 'usage' in usage.stderr


@pytest.mark.parametrize('script, args, tool, tool_args', [
    ('dist_train.sh', ['c.py', '2', '--work-dir', 'w', '--cfg-options', 'a=1'], 'train.py',
     ['c.py', '--work-dir', 'w', '--cfg-options', 'a=1']),
    ('dist_test.sh', ['c.py', 'k.pth', '3', '--out', 'p.json'], 'test.py', ['c.py', 'k.pth', '--out', 'p.json'])])
def test_launch_scripts_hand_torchrun_the_tool_and_its_arguments(script, args, tool, tool_args, tmp_path):
    import os
    import subprocess
    env = dict(os.environ, PYTHON='echo', PORT='29777')  # echo prints the command instead of running torchrun
    out = subprocess.run(['bash', str(ROOT / 'tools' / script), *args], capture_output=True, text=True, env=env,
                         cwd=tmp_path, check=True).stdout.split()
    nproc = args[1] if script == 'dist_train.sh' else args[2]
    assert out[:2] == ['-m', 'torch.distributed.run'] and f'--nproc_per_node={nproc}' in out
    assert '--master_port=29777' in out
    start = out.index(str(ROOT / 'tools' / tool))
    assert out[start + 1:] == tool_args + ['--launcher', 'pytorch']
