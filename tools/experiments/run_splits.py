#!/usr/bin/env python
"""Train and test a config on several published zero-shot splits; print mean ± std mAP per tIoU.

    python tools/experiments/run_splits.py CONFIG --ratios 75 50 --indices 0 1 2 3 4 5 6 7 8 9 [--seeds 0 1 2]
                               [--work-dir D] [--cfg-options ...]
    python tools/experiments/run_splits.py CONFIG --ratios 75 50 --indices 0 --columns 0.5 0.75 0.95 avg  # chosen columns

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
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def run_splits(config: str, ratios: list, indices: list, root: str, options: Optional[dict] = None,
               columns: Optional[list] = None, retrain: bool = False, seeds: Sequence[int] = (0,)) -> tuple[dict, str]:
    """Train and test every (ratio, index, seed); -> ``({run name: {column: mAP %}}, markdown table)``.

    ``columns`` picks table columns (``'0.5'``, ``'avg'``, ...); they are checked against the config's
    ``test_evaluator.tiou_thresholds`` before anything trains. Finished runs are only re-tested unless
    ``retrain``. A ratio with more than one run gets a mean ± sample std row.
    """
    from zeetad.engine.experiments import markdown_table, mean_std_rows, metric_row, train_and_test
    from zeetad.engine.runner_setup import load_config
    options = dict(options or {})
    if columns:
        tious = load_config(config, options).test_evaluator.get('tiou_thresholds', ())
        known = [f'{float(t):g}' for t in tious] + ['avg']
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise ValueError(f'columns {unknown} are not metrics of {config} (known: {known})')
    results = {}
    for ratio in ratios:
        for index in indices:
            for seed in seeds:
                tic = time.time()
                name = f'{ratio}/{100 - ratio} split {index}' + (f' seed {seed}' if len(seeds) > 1 else '')
                work = os.path.join(root, f'r{ratio}_s{index}' + (f'_seed{seed}' if seed else ''))
                run_options = {**options, 'split.ratio': ratio, 'split.index': index, 'randomness.seed': seed}
                results[name] = metric_row(train_and_test(config, work, run_options, retrain=retrain))
                print(f'{name}: avg mAP {results[name]["avg"]:.2f} ({time.time() - tic:.0f} s)', flush=True)
    columns = columns or list(next(iter(results.values())))
    groups = {f'**{r}/{100 - r} mean ± std ({len(indices)} splits x {len(seeds)} seeds)**':
              [row for name, row in results.items() if name.startswith(f'{r}/')] for r in ratios}
    groups = {name: rows for name, rows in groups.items() if len(rows) > 1}  # one run: its row says it all
    table = markdown_table({**results, **mean_std_rows(groups, columns)}, columns)
    Path(root).mkdir(parents=True, exist_ok=True)
    (Path(root) / 'splits.md').write_text(table + '\n')
    (Path(root) / 'splits.json').write_text(json.dumps(results, indent=1))
    return results, table


def main(argv=None):
    from zeetad.engine.cli import add_cfg_options
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--ratios', type=int, nargs='+', default=[75, 50])
    p.add_argument('--indices', type=int, nargs='+', default=list(range(10)))
    p.add_argument('--seeds', type=int, nargs='+', default=[0], help='randomness.seed values (each split x seed)')
    p.add_argument('--work-dir', default=None)
    p.add_argument('--columns', nargs='+', default=None,
                   help='table columns, e.g. 0.5 0.75 0.95 avg (default: every tIoU and avg)')
    add_cfg_options(p)
    args = p.parse_args(argv)
    root = args.work_dir or os.path.join('work_dirs', Path(args.config).stem + '_splits')
    try:
        results, table = run_splits(args.config, args.ratios, args.indices, root, args.cfg_options, args.columns,
                                    seeds=args.seeds)
    except ValueError as exc:
        p.error(str(exc))
    print(table)
    return results


if __name__ == '__main__':
    main()
