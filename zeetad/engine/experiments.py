"""Train-then-test runs driven from Python, shared by the demo and the split/baseline scripts."""
from __future__ import annotations

import gc
import os
from typing import Optional

from .checkpoint_io import find_latest_checkpoint
from .runner_setup import build_runner, load_config


def train_and_test(config: str, work_dir: str, options: Optional[dict] = None, test_options: Optional[dict] = None,
                   train: bool = True, retrain: bool = False) -> dict:
    """Train ``config`` in ``work_dir`` (resuming / skipping when already done), then test the last checkpoint.

    ``test_options`` are extra ``--cfg-options`` for the test only (e.g. the shuffled-names control).
    Returns the test metrics.
    """
    options = dict(options or {})
    cfg = load_config(config, options, work_dir=work_dir)
    final = final_checkpoint(cfg, work_dir)
    if train and (retrain or final is None or not os.path.isfile(final)):
        # The test below evaluates the final checkpoint; a validation pass at the last epoch would repeat it.
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        runner = build_runner(cfg, resume=None if retrain else 'auto', allow_fresh_start=True)
        runner.train()
        del runner
        gc.collect()
    test_cfg = load_config(config, {**options, **(test_options or {})}, work_dir=work_dir)
    test_cfg.load_from = find_latest_checkpoint(work_dir)
    if test_cfg.load_from is None:
        raise FileNotFoundError(f'no checkpoint to test in {work_dir}')
    test_cfg.test_evaluator['out_file'] = os.path.join(work_dir, 'predictions.json')
    test_cfg.test_evaluator['result_dir'] = work_dir
    runner = build_runner(test_cfg, stage='test')
    metrics = runner.test()
    del runner
    gc.collect()
    return metrics


def final_checkpoint(cfg, work_dir: str) -> Optional[str]:
    """Path of the last epoch's checkpoint of ``cfg`` in ``work_dir``; ``None`` while it is not known.

    With ``train_cfg.target_iters`` the epoch count depends on the data: it is the one the run resolved and
    wrote to ``schedule.json`` (:mod:`zeetad.engine.schedule`), and unknown before a run started.
    """
    from .schedule import read_schedule
    loop = cfg.train_cfg
    if loop.get('target_iters') is None:
        return os.path.join(work_dir, f'epoch_{loop.max_epochs}.pth')
    schedule = read_schedule(work_dir)
    if schedule is None or schedule.get('target_iters') != loop.target_iters:
        return None
    return os.path.join(work_dir, f'epoch_{schedule["max_epochs"]}.pth')


def metric_row(metrics: dict) -> dict:
    """``{'mAP@0.30': ..., 'average_mAP': ...}`` (any prefix) -> ``{'0.3': %, ..., 'avg': %}``."""
    row = {}
    for key, value in metrics.items():
        name = key.split('/')[-1]
        if name.startswith('mAP@'):
            row[f'{float(name[4:]):g}'] = 100.0 * float(value)
        elif name == 'average_mAP':
            row['avg'] = 100.0 * float(value)
    return row


def mean_std(values) -> tuple:
    """(mean, sample standard deviation) of ``values``; the std is 0 for a single value."""
    import numpy as np
    values = np.asarray(list(values), dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def mean_std_rows(runs: dict, columns: list) -> dict:
    """``{group: [metric rows of its runs]}`` -> ``{group: {column: 'mean ± std'}}`` (sample std over runs)."""
    return {group: {c: '{:.2f} ± {:.2f}'.format(*mean_std(r[c] for r in rows)) for c in columns}
            for group, rows in runs.items()}


def markdown_table(rows: dict, columns: list, fmt: str = '{:.2f}') -> str:
    """``{row name: {column: value or str}}`` -> a markdown table."""
    lines = ['| | ' + ' | '.join(columns) + ' |', '|---|' + '---|' * len(columns)]
    for name, row in rows.items():
        cells = [fmt.format(row[c]) if isinstance(row.get(c), (int, float)) else str(row.get(c, '-')) for c in columns]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
