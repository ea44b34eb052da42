"""Config loading and Runner construction shared by ``tools/train.py`` and ``tools/test.py``."""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_config(path: str, options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
        if any(key == 'split' or key.startswith('split.') for key in options):
            propagate_split(cfg)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(path))[0])
    cfg.setdefault('default_scope', 'zeetad')
    return cfg


def propagate_split(cfg: Config) -> None:
    """Copy the top-level ``split`` into every dataset, so ``--cfg-options split.index=3`` changes them all."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        while dataset is not None and 'dataset' in dataset and 'split' not in dataset:
            dataset = dataset['dataset']  # wrappers such as RepeatDataset
        if dataset is not None and 'split' in dataset:
            dataset['split'] = dict(cfg.split)


def build_runner(cfg: Config, resume: Optional[str] = None):
    """Build the mmengine Runner; ``resume='auto'`` continues from the latest checkpoint in the work dir."""
    import zeetad.engine  # noqa: F401  (safe checkpoint loading, atomic saving)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from zeetad.engine.checkpoint_io import find_latest_checkpoint
    from zeetad.engine.distributed import prepare_distributed
    if resume == 'auto':
        latest = find_latest_checkpoint(cfg.work_dir) if osp.isdir(cfg.work_dir) else None
        cfg.resume, cfg.load_from = latest is not None, latest
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        cfg.resume, cfg.load_from = True, resume
    prepare_distributed(cfg)
    os.makedirs(cfg.work_dir, exist_ok=True)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
