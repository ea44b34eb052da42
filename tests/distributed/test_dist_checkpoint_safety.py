"""Checkpoint reliability with the toy model: rotation under SIGKILL, nothing to resume, write failures, and
checkpoints of another model (test, resume, load_from)."""
import logging
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from dist_toy_components import toy_config, weights
from mmengine.logging import MMLogger

from zeetad.engine import CheckpointError
from zeetad.engine.runner_setup import build_runner

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# Trains the toy (4 iterations, a checkpoint after each, max_keep_ckpts=1) and SIGKILLs itself half-way through
# writing iter_3.pth's temporary file: the state a power cut or the OOM killer leaves.
KILLED_DURING_SAVE = f'''
import os, signal, sys
sys.path[:0] = [{str(ROOT)!r}, {str(HERE)!r}]
from dist_toy_components import toy_config
import zeetad.engine.checkpoint_io as cio
from zeetad.engine.runner_setup import build_runner
from zeetad.utils.atomic_io import atomic_path
real = cio.atomic_write_bytes
def write_then_die(path, data):
    if not path.endswith('iter_3.pth'):
        return real(path, data)
    with atomic_path(path) as tmp, open(tmp, 'wb') as f:
        f.write(data[:len(data) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
cio.atomic_write_bytes = write_then_die
cfg = toy_config(sys.argv[1], max_epochs=1)
cfg.default_hooks.checkpoint.max_keep_ckpts = 1
build_runner(cfg).train()
'''


def _toy(work_dir, **kwargs):
    cfg = toy_config(str(work_dir), max_epochs=1, **kwargs)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 1
    return cfg


def test_rotation_keeps_the_previous_checkpoint_when_killed_during_the_next_save(tmp_path):
    crashed = tmp_path / 'crashed'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, '-c', KILLED_DURING_SAVE, str(crashed)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    names = sorted(os.listdir(crashed))
    assert 'iter_2.pth' in names, names  # mmengine's hook deleted it before writing iter_3.pth
    orphans = [n for n in names if n.startswith('.iter_3.pth.') and n.endswith('.tmp')]
    assert len(orphans) == 1

    resumed = build_runner(_toy(crashed), resume='auto')  # removes the orphan (logged), resumes at iteration 2
    assert not (crashed / orphans[0]).exists() and resumed._load_from == str(crashed / 'iter_2.pth')
    resumed.train()
    assert resumed.iter == 4 and sorted(p.name for p in crashed.glob('*.pth')) == ['iter_4.pth']
    assert (crashed / 'last_checkpoint').read_text() == str(crashed / 'iter_4.pth')
    plain = build_runner(_toy(tmp_path / 'plain'))
    plain.train()
    for key, value in weights(plain).items():
        assert torch.equal(value, weights(resumed)[key]), key


def test_orphan_cleanup_touches_only_temporary_checkpoint_files(tmp_path):
    from zeetad.engine.checkpoint_io import remove_orphan_temp_files
    keep = ['iter_2.pth', 'last_checkpoint', '.hidden.tmp', 'iter_3.pth.tmp', 'notes.txt']
    drop = ['.iter_3.pth.abc_12x9.tmp', '.epoch_4.pth.q1w2e3r4.tmp', '.last_checkpoint.zz9yy8xx.tmp']
    for name in keep + drop:
        (tmp_path / name).write_bytes(b'x')
    logged = []
    grab = logging.Handler()
    grab.emit = lambda record: logged.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(grab)
    try:
        assert sorted(Path(p).name for p in remove_orphan_temp_files(str(tmp_path))) == sorted(drop)
    finally:
        logger.removeHandler(grab)
    assert sorted(os.listdir(tmp_path)) == sorted(keep)
    assert len(logged) == 3 and all('temporary file of a checkpoint save that was killed' in m for m in logged)
    assert any(str(tmp_path / drop[0]) in m for m in logged)


def test_resume_with_nothing_to_resume_is_an_error_unless_asked_to_start_afresh(tmp_path):
    (tmp_path / '.iter_1.pth.abcd1234.tmp').write_bytes(b'half a checkpoint')
    with pytest.raises(CheckpointError, match=rf'nothing to resume from in {tmp_path}.*1 incomplete temporary'
                                              r'.*--resume-if-any'):
        build_runner(_toy(tmp_path), resume='auto')
    runner = build_runner(_toy(tmp_path), resume='auto', allow_fresh_start=True)
    runner.train()
    assert runner.iter == 4


def test_train_cli_resume_if_any(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location('train_tool', ROOT / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    args = tool.parse_args(['cfg.py', '--resume-if-any'])
    assert args.resume_if_any and args.resume is None


WRITE_LIMITED = f'''
import sys
sys.path.insert(0, {str(ROOT)!r})
import torch
import zeetad.engine
from mmengine.runner.checkpoint import save_checkpoint
try:
    save_checkpoint(dict(w=torch.zeros(100_000)), sys.argv[1])
except OSError as exc:
    print(type(exc).__name__, exc)
'''


def test_a_failed_checkpoint_write_names_the_file(tmp_path):
    """A real write failure: the file size limit (``ulimit -f``) stops the write with EFBIG half-way."""
    path = tmp_path / 'iter_7.pth'

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, '-c', WRITE_LIMITED, str(path)], env=env, capture_output=True,
                          text=True, timeout=300, preexec_fn=limit)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f'CheckpointWriteError cannot write {path}: File too large' in proc.stdout, proc.stdout
    assert os.listdir(tmp_path) == []  # neither a truncated iter_7.pth nor a temporary file


def _with_test_loop(cfg):
    cfg.update(test_dataloader=dict(cfg.train_dataloader, sampler=dict(type='DefaultSampler', shuffle=False)),
               test_evaluator=dict(type='DistToyMetric'), test_cfg=dict(type='TestLoop'))
    return cfg


@pytest.fixture(scope='module')
def small_checkpoint(tmp_path_factory):
    """``iter_4.pth`` of the toy with ``dim=4``: another config's checkpoint for a ``dim=8`` model."""
    work_dir = tmp_path_factory.mktemp('small')
    build_runner(_toy(work_dir)).train()
    return str(work_dir / 'iter_4.pth')


def _wide(work_dir):
    cfg = _with_test_loop(_toy(work_dir))
    cfg.model['dim'] = 8
    cfg.train_dataloader.dataset['dim'] = cfg.test_dataloader.dataset['dim'] = 8
    return cfg


def test_testing_with_another_configs_checkpoint_is_an_error(tmp_path, small_checkpoint):
    cfg = _wide(tmp_path)
    cfg.load_from = small_checkpoint
    with pytest.raises(CheckpointError, match=rf'{small_checkpoint} does not fit the model.*1 shape mismatches: '
                                              r'net\.0\.weight \(16, 4\) in the checkpoint vs \(16, 8\)'):
        build_runner(cfg, stage='test').test()
    same = _with_test_loop(_toy(tmp_path / 'same'))
    same.load_from = small_checkpoint
    assert 'toy/mse' in build_runner(same, stage='test').test()


def test_resuming_from_another_configs_checkpoint_is_an_error(tmp_path, small_checkpoint):
    with pytest.raises(CheckpointError, match=rf'{small_checkpoint} does not fit.*net\.0\.weight'):
        build_runner(_wide(tmp_path), resume=small_checkpoint).train()


def test_partial_load_from_is_allowed_only_when_asked(tmp_path, small_checkpoint):
    cfg = _wide(tmp_path / 'refused')
    cfg.load_from = small_checkpoint
    with pytest.raises(CheckpointError, match='does not fit'):
        build_runner(cfg).train()
    cfg = _wide(tmp_path / 'partial')
    cfg.load_from = small_checkpoint
    cfg.custom_hooks = [dict(type='CheckpointFitHook', partial_load_from=True)]
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 4
