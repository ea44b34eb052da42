#!/usr/bin/env python
"""Train and test a config on several published zero-shot splits; print mean ± std mAP per tIoU.

    python tools/run_splits.py CONFIG --ratios 75 50 --indices 0 1 2 3 4 5 6 7 8 9 [--seeds 0 1 2]
                               [--work-dir D] [--cfg-options ...]

Each split and seed runs in ``<work-dir>/r<ratio>_s<index>`` (seed 0) or ``.../r<ratio>_s<index>_seed<n>`` and is
skipped when already complete, so an interrupted sweep continues where it stopped. The summary rows are the mean
± sample std over every run of a ratio (splits x seeds).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    from mmengine.config import DictAction

    from zeetad.engine.experiments import markdown_table, mean_std_rows, metric_row, train_and_test
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--ratios', type=int, nargs='+', default=[75, 50])
    p.add_argument('--indices', type=int, nargs='+', default=list(range(10)))
    p.add_argument('--seeds', type=int, nargs='+', default=[0], help='randomness.seed values (each split x seed)')
    p.add_argument('--work-dir', default=None)
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    args = p.parse_args(argv)
    root = args.work_dir or os.path.join('work_dirs', Path(args.config).stem + '_splits')
    results = {}
    for ratio in args.ratios:
        for index in args.indices:
            for seed in args.seeds:
                tic = time.time()
                options = {**args.cfg_options, 'split.ratio': ratio, 'split.index': index, 'randomness.seed': seed}
                name = f'{ratio}/{100 - ratio} split {index}' + (f' seed {seed}' if len(args.seeds) > 1 else '')
                work = os.path.join(root, f'r{ratio}_s{index}' + (f'_seed{seed}' if seed else ''))
                results[name] = metric_row(train_and_test(args.config, work, options))
                print(f'{name}: avg mAP {results[name]["avg"]:.2f} ({time.time() - tic:.0f} s)', flush=True)
    columns = list(next(iter(results.values())))
    groups = {f'**{r}/{100 - r} mean ± std ({len(args.indices)} splits x {len(args.seeds)} seeds)**':
              [row for name, row in results.items() if name.startswith(f'{r}/')] for r in args.ratios}
    rows = {**results, **mean_std_rows(groups, columns)}
    table = markdown_table(rows, columns)
    print(table)
    Path(root).mkdir(parents=True, exist_ok=True)
    (Path(root) / 'splits.md').write_text(table + '\n')
    (Path(root) / 'splits.json').write_text(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
