#!/usr/bin/env python
"""ZEETAD against its baselines on the same unseen classes, fixed budget and seeds (the README's ablation table).

    python tools/run_baselines.py [--config CFG] [--ratios 75 50] [--index 0] [--work-dir work_dirs/baselines]

Variants (all tested zero-shot on the split's unseen classes):
  zeetad       end-to-end ZEETAD (adapters in the text tower)
  closed_set   trained on all classes, unseen ones included: an upper bound
  frozen_text  no adapters: the CLIP text tower stays exactly as loaded
  two_stage    class-agnostic proposals, then CLIP classification of fixed proposals (no gradient between them)
  shuffled     the zeetad checkpoint with the class-name -> text mapping deranged at test time (a control)
Finished runs are reused, so an interrupted sweep continues where it stopped.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANTS = {
    'zeetad': ({}, {}),
    'closed_set': ({'split.train_on_all': True}, {}),
    'frozen_text': ({'model.classifier.text_encoder.num_adapter_blocks': 0}, {}),
    'two_stage': ({'model.localizer.detach_semantics': True, 'model.criterion.matcher.cost_class': 0.0}, {}),
}


def main(argv=None):
    from zeetad.engine.experiments import markdown_table, metric_row, train_and_test
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='configs/zeetad/zeetad_synthetic_thumos14_demo.py')
    p.add_argument('--ratios', type=int, nargs='+', default=[75, 50])
    p.add_argument('--index', type=int, default=0)
    p.add_argument('--variants', nargs='+', default=list(VARIANTS) + ['shuffled'])
    p.add_argument('--work-dir', default='work_dirs/baselines')
    args = p.parse_args(argv)
    rows = {}
    for ratio in args.ratios:
        split = {'split.ratio': ratio, 'split.index': args.index}
        for variant in args.variants:
            tic = time.time()
            if variant == 'shuffled':
                train_opts, test_opts = {}, {'model.test_cfg.shuffle_class_names': True}
                work_dir = os.path.join(args.work_dir, f'r{ratio}_s{args.index}', 'zeetad')
                metrics = train_and_test(args.config, work_dir, {**split, **train_opts}, test_opts)
            else:
                train_opts, test_opts = VARIANTS[variant]
                work_dir = os.path.join(args.work_dir, f'r{ratio}_s{args.index}', variant)
                metrics = train_and_test(args.config, work_dir, {**split, **train_opts}, test_opts)
            rows[f'{ratio}/{100 - ratio} {variant}'] = metric_row(metrics)
            print(f'== {ratio}/{100 - ratio} {variant}: avg mAP {rows[f"{ratio}/{100 - ratio} {variant}"]["avg"]:.2f} '
                  f'({time.time() - tic:.0f} s)', flush=True)
    columns = list(next(iter(rows.values())))
    table = markdown_table(rows, columns)
    checks = []
    for ratio in args.ratios:
        get = lambda v: rows.get(f'{ratio}/{100 - ratio} {v}', {}).get('avg')  # noqa: E731
        z, c, s, f = get('zeetad'), get('closed_set'), get('shuffled'), get('frozen_text')
        if None not in (z, c):
            checks.append(f'{ratio}/{100 - ratio}: zero-shot / closed-set = {z / max(c, 1e-9):.2f} (target >= 0.6)')
        if None not in (z, s):
            checks.append(f'{ratio}/{100 - ratio}: zero-shot / shuffled = {z / max(s, 1e-9):.1f} (target >= 5)')
        if None not in (z, f):
            checks.append(f'{ratio}/{100 - ratio}: adapters - frozen text = {z - f:+.2f} (target >= 0)')
    report = table + '\n\n' + '\n'.join(f'- {c}' for c in checks) + '\n'
    print(report)
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.work_dir) / 'baselines.md').write_text(report)
    (Path(args.work_dir) / 'baselines.json').write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == '__main__':
    main()
