#!/usr/bin/env python
"""The README's main job: synthetic THUMOS14-shaped data -> train ZEETAD on split 0 of 75/25 -> zero-shot test.

    python tools/demo.py [--config CFG] [--work-dir D] [--retrain] [--cfg-options k=v ...]

Every stage is reused when already complete (data, final checkpoint), so a second run only re-tests.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_CONFIG = 'configs/zeetad/zeetad_synthetic_thumos14_demo.py'


def main(argv=None):
    from zeetad.engine.cli import add_cfg_options
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--retrain', action='store_true', help='train again even if a final checkpoint exists')
    add_cfg_options(p)
    args = p.parse_args(argv)
    tic = time.time()

    import make_synthetic_data
    print('== 1/2 synthetic THUMOS14-shaped data ==', flush=True)
    make_synthetic_data.main([])
    print('== 2/2 train ZEETAD on the seen classes, test zero-shot on the unseen ones ==', flush=True)
    from zeetad.engine.experiments import train_and_test
    metrics = train_and_test(args.config, args.work_dir, args.cfg_options, retrain=args.retrain)
    print(f'demo finished in {(time.time() - tic) / 60:.1f} min; results and predictions in {args.work_dir}')
    return metrics


if __name__ == '__main__':
    main()
