#!/usr/bin/env python
"""Train a zeetad model.

    python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
    torchrun --nproc_per_node=N tools/train.py CONFIG --launcher pytorch     # or tools/dist_train.sh CONFIG N
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description='Train a zeetad model')
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None,
                   help='resume from CKPT, or from the latest checkpoint in the work dir when no CKPT is given')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision (CUDA)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config keys, e.g. train_dataloader.dataset.split.index=3')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from zeetad.engine.runner_setup import build_runner, load_config
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir, launcher=args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('dtype', 'bfloat16' if cfg.get('amp_dtype') == 'bfloat16' else None)
    runner = build_runner(cfg, resume=args.resume)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
