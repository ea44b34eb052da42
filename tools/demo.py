#!/usr/bin/env python
"""The README's main job: synthetic THUMOS14-shaped data -> train ZEETAD on split 0 of 75/25 -> zero-shot test.

    python tools/demo.py [--config CFG] [--work-dir D] [--retrain] [--cfg-options k=v ...]
    python tools/demo.py --dataset activitynet   # ActivityNet-shaped data, split 0 of 75/25 and 50/50, one table

Every stage is reused when already complete (data, final checkpoint), so a second run only re-tests.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / 'data'))  # make_synthetic_data

DEFAULT_CONFIGS = {'thumos14': 'configs/zeetad/zeetad_synthetic_thumos14_demo.py',
                   'activitynet': 'configs/zeetad/zeetad_synthetic_anet_demo.py'}


def main(argv=None):
    from zeetad.engine.cli import add_cfg_options
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', choices=sorted(DEFAULT_CONFIGS), default='thumos14',
                   help='activitynet: train and test split 0 of both ratios and print one table')
    p.add_argument('--config', default=None, help='default: the demo config of --dataset')
    p.add_argument('--work-dir', default=None, help='default: work_dirs/demo (work_dirs/demo_activitynet)')
    p.add_argument('--retrain', action='store_true', help='train again even if a final checkpoint exists')
    add_cfg_options(p)
    args = p.parse_args(argv)
    config = args.config or DEFAULT_CONFIGS[args.dataset]
    anet = args.dataset == 'activitynet'
    work_dir = args.work_dir or ('work_dirs/demo_activitynet' if anet else 'work_dirs/demo')
    tic = time.time()

    import make_synthetic_data
    print(f'== 1/2 synthetic {"ActivityNet" if anet else "THUMOS14"}-shaped data ==', flush=True)
    make_synthetic_data.main(['--shape', args.dataset])
    print('== 2/2 train ZEETAD on the seen classes, test zero-shot on the unseen ones ==', flush=True)
    if anet:
        from run_splits import run_splits
        result, table = run_splits(config, [75, 50], [0], work_dir, args.cfg_options, ['0.5', '0.75', '0.95', 'avg'],
                                   retrain=args.retrain)
        print(table)
    else:
        from zeetad.engine.experiments import train_and_test
        result = train_and_test(config, work_dir, args.cfg_options, retrain=args.retrain)
    print(f'demo finished in {(time.time() - tic) / 60:.1f} min; results and predictions in {work_dir}')
    return result


if __name__ == '__main__':
    main()
