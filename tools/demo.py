#!/usr/bin/env python
"""The README's main job: synthetic THUMOS14-shaped data -> train ZEETAD on split 0 of 75/25 -> zero-shot test.

    python tools/demo.py [--config CFG] [--work-dir D] [--cfg-options k=v ...]

Every stage is reused when already complete (data, final checkpoint), so a second run only re-tests.
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_CONFIG = 'configs/zeetad/zeetad_synthetic_thumos14_demo.py'


def main(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--work-dir', default='work_dirs/demo')
    p.add_argument('--retrain', action='store_true', help='train again even if a final checkpoint exists')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = p.parse_args(argv)
    tic = time.time()

    import make_synthetic_data
    print('== 1/3 synthetic THUMOS14-shaped data ==', flush=True)
    make_synthetic_data.main([])

    from zeetad.engine.checkpoint_io import find_latest_checkpoint
    from zeetad.engine.runner_setup import build_runner, load_config
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir)
    final = os.path.join(args.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    print(f'== 2/3 train ZEETAD ({cfg.train_dataloader.dataset.split}) ==', flush=True)
    if args.retrain or not os.path.isfile(final):
        runner = build_runner(cfg, resume='auto')
        runner.train()
        del runner
    else:
        print(f'{final} exists: skipping training (--retrain to train again)')
    print('== 3/3 zero-shot test on the unseen classes ==', flush=True)
    test_cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir)
    test_cfg.load_from = find_latest_checkpoint(args.work_dir)
    test_cfg.test_evaluator['out_file'] = os.path.join(args.work_dir, 'predictions.json')
    test_cfg.test_evaluator['result_dir'] = args.work_dir
    metrics = build_runner(test_cfg).test()
    print(f'demo finished in {(time.time() - tic) / 60:.1f} min; predictions: {test_cfg.test_evaluator["out_file"]}')
    return metrics


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
