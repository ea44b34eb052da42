"""Config loading and Runner construction shared by ``tools/train.py``, ``tools/test.py`` and experiments."""
from __future__ import annotations

import logging
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_config(path: str, options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Read ``path``, merge ``--cfg-options``-style ``options``, set launcher, work dir and default scope."""
    from zeetad.engine.config_load import check_options, read_config
    cfg = read_config(path)
    if options:
        check_options(cfg, options, path)
        cfg.merge_from_dict(options)
        if any(key == 'split' or key.startswith('split.') for key in options):
            propagate_split(cfg)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.setdefault('default_scope', 'zeetad')
    resolve_loader_workers(cfg)
    return cfg


def loader_workers(cores: Optional[int] = None) -> int:
    """DataLoader workers for ``num_workers='auto'`` on ``cores`` usable cores (default: this process's CPU
    affinity): 0 up to 2 cores, else ``min(4, cores // 4)``.

    Loading a window is light (slices of two feature arrays), so a worker pays off only where it does not take a
    core from the model: on 2 cores the demo's ``tools/test.py`` is slower with 2 workers than with none
    (docs/benchmarks.md).
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    return 0 if cores <= 2 else min(4, cores // 4)


def resolve_loader_workers(cfg: Config, cores: Optional[int] = None) -> None:
    """Every dataloader's ``num_workers='auto'`` -> :func:`loader_workers` (in place); with 0 workers,
    ``persistent_workers`` is turned off (torch refuses it without workers)."""
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if isinstance(loader, dict) and loader.get('num_workers') == 'auto':
            loader['num_workers'] = loader_workers(cores)
            if loader['num_workers'] == 0:
                loader['persistent_workers'] = False


def propagate_split(cfg: Config) -> None:
    """Copy the top-level ``split`` into every dataset, so ``--cfg-options split.index=3`` changes them all."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        while dataset is not None and 'dataset' in dataset and 'split' not in dataset:
            dataset = dataset['dataset']  # wrappers such as RepeatDataset
        if dataset is not None and 'split' in dataset:
            dataset['split'] = dict(cfg.split)


def enable_amp(cfg: Config, dtype: str = 'auto') -> str:
    """Switch ``cfg`` to mixed precision on CUDA; returns the autocast dtype (``float16`` / ``bfloat16``).

    ``'auto'`` picks bf16 where the GPU supports it (no loss-scale overflows), fp16 otherwise. AMP is a CUDA
    feature here: without a GPU this raises instead of silently training in fp32.
    """
    import torch
    names = {'fp16': 'float16', 'float16': 'float16', 'bf16': 'bfloat16', 'bfloat16': 'bfloat16'}
    if dtype != 'auto' and dtype not in names:
        raise ValueError(f"--amp must be 'auto', 'fp16' or 'bf16', got {dtype!r}")
    if not torch.cuda.is_available():
        from .cli import UsageError
        raise UsageError('--amp needs a CUDA GPU, and torch.cuda.is_available() is False here; train without '
                           '--amp on CPU (or install a CUDA build of torch)')
    if dtype == 'auto':
        dtype = 'bf16' if torch.cuda.is_bf16_supported() else 'fp16'
    wrapper = cfg.setdefault('optim_wrapper', {})
    if wrapper.get('type', 'OptimWrapper') not in ('OptimWrapper', 'GuardedOptimWrapper', 'AmpOptimWrapper',
                                                   'GuardedAmpOptimWrapper'):
        raise ValueError(f"--amp replaces optim_wrapper.type 'OptimWrapper'; this config uses "
                         f"{wrapper['type']!r}")
    wrapper['type'] = 'AmpOptimWrapper'
    wrapper['dtype'] = names[dtype]
    return names[dtype]


def _has_hook(hooks, name: str) -> bool:
    return any(isinstance(h, dict) and str(h.get('type', '')).split('.')[-1] == name for h in hooks)


def apply_engine_defaults(cfg: Config) -> None:
    """zeetad's training guard rails, unless the config already chose otherwise (in place).

    * ``OptimWrapper`` / ``AmpOptimWrapper`` -> the guarded variants that skip non-finite losses;
    * ``NonFiniteLossHook`` (stop with the iteration and loss term named) and ``RNGStateHook`` added to
      ``custom_hooks`` when absent (configure the former there, e.g. ``action='skip'``);
    * ``EpochBasedTrainLoop`` -> ``ResumableEpochBasedTrainLoop`` (exact mid-epoch resume);
    * ``CheckpointHook`` -> ``SafeCheckpointHook`` (rotation deletes only after the new checkpoint is written),
      and ``CheckpointFitHook`` in ``custom_hooks`` (a checkpoint of another model is an error), at every stage.
    * ``randomness.deterministic='auto'`` -> ``True`` without CUDA, ``False`` with it (see default_runtime.py).
    """
    resolve_deterministic(cfg)
    wrapper = cfg.get('optim_wrapper')
    if isinstance(wrapper, dict):
        swap = {'OptimWrapper': 'GuardedOptimWrapper', 'AmpOptimWrapper': 'GuardedAmpOptimWrapper'}
        kind = wrapper.get('type', 'OptimWrapper')
        if isinstance(kind, str) and kind.split('.')[-1] in swap:
            wrapper['type'] = swap[kind.split('.')[-1]]
    default_hooks = cfg.setdefault('default_hooks', {})
    ckpt_hook = default_hooks.get('checkpoint', dict(type='CheckpointHook'))
    if isinstance(ckpt_hook, dict) and str(ckpt_hook.get('type', '')).split('.')[-1] == 'CheckpointHook':
        default_hooks['checkpoint'] = dict(ckpt_hook, type='SafeCheckpointHook')
    hooks = list(cfg.get('custom_hooks') or [])
    names = ('CheckpointFitHook', 'NonFiniteLossHook', 'RNGStateHook') if cfg.get('train_cfg') else \
        ('CheckpointFitHook',)
    for name in names:
        if not _has_hook(hooks, name):
            hooks.append(dict(type=name))
    if cfg.get('train_cfg') and (cfg.get('model') or {}).get('name_scorer') and \
            not _has_hook(hooks, 'NameCalibrationHook'):
        hooks.append(dict(type='NameCalibrationHook'))  # fits the calibrated name score before the last save
    cfg.custom_hooks = hooks
    if cfg.get('train_cfg'):
        loop = cfg.train_cfg
        kind = loop.get('type')
        if (isinstance(kind, str) and kind.split('.')[-1] == 'EpochBasedTrainLoop') or \
                (kind is None and loop.get('by_epoch', False)):
            loop.pop('by_epoch', None)
            loop['type'] = 'ResumableEpochBasedTrainLoop'


def resolve_deterministic(cfg: Config) -> None:
    """``randomness.deterministic='auto'`` -> a bool mmengine accepts (in place)."""
    randomness = cfg.get('randomness')
    if isinstance(randomness, dict) and randomness.get('deterministic') == 'auto':
        import torch
        randomness['deterministic'] = not torch.cuda.is_available()


def build_runner(cfg: Config, resume: Optional[str] = None, *, stage: str = 'train', validate: bool = True,
                 allow_fresh_start: bool = False):
    """Build the mmengine Runner.

    Args:
        cfg: from :func:`load_config`; modified in place.
        resume: ``'auto'`` continues from the latest checkpoint in the work dir, a path from that file.
        allow_fresh_start: with ``resume='auto'``, start from scratch (with a warning) when the work dir holds
            no checkpoint, instead of raising :class:`~zeetad.engine.checkpoint_io.CheckpointError`.
        stage: ``'train'`` or ``'test'``: which datasets' files :func:`validate_config` requires.
        validate: check the config before anything is built (:class:`ConfigError` names the key).

    With ``cfg.launcher != 'none'`` this also initialises the process group (nccl on GPUs, gloo on CPU);
    run inside :func:`zeetad.engine.distributed.distributed_job` (or call ``finalize_distributed`` when done).
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    import zeetad.engine  # noqa: F401  (safe checkpoint loading, atomic saving, loops and hooks)
    from zeetad.engine.checkpoint_io import resolve_resume
    from zeetad.engine.config_check import validate_config
    from zeetad.engine.distributed import prepare_distributed
    if resume == 'auto':
        latest = resolve_resume(cfg.work_dir, allow_fresh_start)
        cfg.resume, cfg.load_from = latest is not None, latest
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        cfg.resume, cfg.load_from = True, resume
    if validate:
        validate_config(cfg, stage)
    apply_engine_defaults(cfg)
    prepare_distributed(cfg)
    os.makedirs(cfg.work_dir, exist_ok=True)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    group_frozen_parameter_warnings(runner)
    return runner


class _FrozenParameterWarnings(logging.Filter):
    """Drops mmengine's one warning per parameter left out of the optimizer for ``requires_grad=False`` (the
    frozen CLIP text tower: ~50 lines a run, which buried zeetad's own warnings); the first is replaced by one
    line that counts them."""

    MARK = 'is skipped since its requires_grad=False'

    def __init__(self, frozen: list[str]):
        super().__init__()
        self.frozen, self.seen = frozen, False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.MARK not in str(record.msg):
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg, record.args = (f'the optimizer leaves out the {len(self.frozen)} parameters with '
                                   f'requires_grad=False (frozen, e.g. {self.frozen[0] if self.frozen else "-"})'), ()
        record.levelno, record.levelname = logging.INFO, 'INFO'
        return True


def group_frozen_parameter_warnings(runner) -> None:
    """One line instead of mmengine's warning per frozen parameter, on ``runner``'s logger (which mmengine's
    optimizer constructor logs to)."""
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    runner.logger.addFilter(_FrozenParameterWarnings(frozen))
