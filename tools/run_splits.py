#!/usr/bin/env python
"""Train and test a config on several published zero-shot splits; print mean ± std mAP per tIoU.

    python tools/run_splits.py CONFIG --ratios 75 50 --indices 0 1 2 3 4 5 6 7 8 9 [--work-dir D] [--cfg-options ...]

Each split runs in ``<work-dir>/r<ratio>_s<index>`` and is skipped when already complete, so an interrupted sweep
continues where it stopped.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    import numpy as np
    from zeetad.engine.cli import add_cfg_options

    from zeetad.engine.experiments import markdown_table, metric_row, train_and_test
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--ratios', type=int, nargs='+', default=[75, 50])
    p.add_argument('--indices', type=int, nargs='+', default=list(range(10)))
    p.add_argument('--work-dir', default=None)
    add_cfg_options(p)
    args = p.parse_args(argv)
    root = args.work_dir or os.path.join('work_dirs', Path(args.config).stem + '_splits')
    results = {}
    for ratio in args.ratios:
        for index in args.indices:
            tic = time.time()
            options = {**args.cfg_options, 'split.ratio': ratio, 'split.index': index}
            metrics = train_and_test(args.config, os.path.join(root, f'r{ratio}_s{index}'), options)
            results[f'{ratio}/{100 - ratio} split {index}'] = metric_row(metrics)
            print(f'split {ratio}/{100 - ratio} #{index}: avg mAP {results[f"{ratio}/{100 - ratio} split {index}"]["avg"]:.2f} '
                  f'({time.time() - tic:.0f} s)', flush=True)
    columns = list(next(iter(results.values())))
    rows = dict(results)
    for ratio in args.ratios:
        runs = [row for name, row in results.items() if name.startswith(f'{ratio}/')]
        rows[f'**{ratio}/{100 - ratio} mean ± std ({len(runs)} splits)**'] = {
            c: f'{np.mean([r[c] for r in runs]):.2f} ± {np.std([r[c] for r in runs]):.2f}' for c in columns}
    table = markdown_table(rows, columns)
    print(table)
    Path(root).mkdir(parents=True, exist_ok=True)
    (Path(root) / 'splits.md').write_text(table + '\n')
    (Path(root) / 'splits.json').write_text(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
