"""Distributed set-up that works on CPU (gloo) as well as GPUs (nccl)."""
from __future__ import annotations

import torch


def prepare_distributed(cfg) -> None:
    """Choose the backend for the launcher: nccl with CUDA, gloo otherwise."""
    if cfg.get('launcher', 'none') == 'none':
        return
    env = cfg.setdefault('env_cfg', {})
    dist_cfg = env.setdefault('dist_cfg', {})
    if not torch.cuda.is_available():
        dist_cfg['backend'] = 'gloo'
    else:
        dist_cfg.setdefault('backend', 'nccl')
