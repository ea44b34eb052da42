#!/usr/bin/env python
"""ZEETAD against its baselines on the same unseen classes, fixed budget and seeds (the baselines table of configs/zeetad/README.md).

    python tools/experiments/run_baselines.py [--config CFG] [--ratios 75 50] [--index 0] [--seeds 0 1 2]
                                  [--work-dir work_dirs/baselines] [--cfg-options k=v ...]
                                  [--test-options k=v ...] [--report NAME]

Variants (all tested zero-shot on the split's unseen classes):
  zeetad       end-to-end ZEETAD (adapters in the text tower)
  closed_set   trained on all classes, unseen ones included: an upper bound
  frozen_text  no adapters: the CLIP text tower stays exactly as loaded
  two_stage    class-agnostic proposals, then CLIP classification of fixed proposals (no gradient between them)
  shuffled     the zeetad checkpoint with the class-name -> text mapping deranged at test time (a control)
Finished runs are reused, so an interrupted sweep continues where it stopped. With several seeds
(``randomness.seed``) each variant is reported as mean ± sample std over the seeds, and the targets are checked
on the means; the seed std is a target too (it says how far one run may land from the table).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

VARIANTS = {
    'zeetad': ({}, {}),
    'closed_set': ({'split.train_on_all': True}, {}),
    'frozen_text': ({'model.classifier.text_encoder.num_adapter_blocks': 0}, {}),
    'two_stage': ({'model.localizer.detach_semantics': True, 'model.criterion.matcher.cost_class': 0.0}, {}),
}


# Targets on the mean avg mAP of each variant: (description, passes, variants needed, shown value).
TARGETS = (
    ('zero-shot >= 0.8 x closed-set', lambda r: r['zeetad'] / max(r['closed_set'], 1e-9) >= 0.8,
     ('zeetad', 'closed_set'), lambda r: f"{r['zeetad'] / max(r['closed_set'], 1e-9):.2f}"),
    ('shuffled control <= 0.2 x zero-shot', lambda r: r['shuffled'] <= 0.2 * r['zeetad'],
     ('zeetad', 'shuffled'), lambda r: f"{r['shuffled'] / max(r['zeetad'], 1e-9):.2f}"),
    ('adapters >= frozen text + 2', lambda r: r['zeetad'] >= r['frozen_text'] + 2,
     ('zeetad', 'frozen_text'), lambda r: f"{r['zeetad'] - r['frozen_text']:+.2f}"),
)


def main(argv=None):
    from mmengine.config import DictAction

    from zeetad.engine.experiments import markdown_table, mean_std, mean_std_rows, metric_row, train_and_test
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='configs/zeetad/zeetad_synthetic_thumos14_demo.py')
    p.add_argument('--ratios', type=int, nargs='+', default=[75, 50])
    p.add_argument('--index', type=int, default=0)
    p.add_argument('--variants', nargs='+', default=list(VARIANTS) + ['shuffled'], choices=list(VARIANTS) + ['shuffled'])
    p.add_argument('--seeds', type=int, nargs='+', default=[0], help='randomness.seed values; each variant runs all')
    p.add_argument('--work-dir', default='work_dirs/baselines')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, help='applied to every run')
    p.add_argument('--test-options', nargs='+', action=DictAction, default={},
                   help='applied to the tests only: compare scoring rules on the same trained checkpoints')
    p.add_argument('--report', default='baselines', help='<work-dir>/<report>.{md,json}')
    args = p.parse_args(argv)
    runs = {}  # '<ratio> <variant>' -> [metric row per seed]
    for ratio in args.ratios:
        split = {**args.cfg_options, 'split.ratio': ratio, 'split.index': args.index}
        for seed in args.seeds:
            for variant in args.variants:
                tic = time.time()
                trained = 'zeetad' if variant == 'shuffled' else variant  # the control re-tests zeetad's run
                train_opts, test_opts = ({}, {'model.test_cfg.shuffle_class_names': True}) \
                    if variant == 'shuffled' else VARIANTS[variant]
                seed_dir = f'seed{seed}' if seed else ''  # seed 0 keeps the single-seed layout
                work_dir = os.path.join(args.work_dir, f'r{ratio}_s{args.index}', seed_dir, trained)
                metrics = train_and_test(args.config, work_dir, {**split, **train_opts, 'randomness.seed': seed},
                                         {**args.test_options, **test_opts})
                name = f'{ratio}/{100 - ratio} {variant}'
                runs.setdefault(name, []).append(metric_row(metrics))
                print(f'== {name} seed {seed}: avg mAP {runs[name][-1]["avg"]:.2f} ({time.time() - tic:.0f} s)',
                      flush=True)
    columns = list(next(iter(runs.values()))[0])
    rows = mean_std_rows(runs, columns)
    table = markdown_table(rows, columns)
    checks = []
    for ratio in args.ratios:
        means = {v: mean_std(r['avg'] for r in runs[f'{ratio}/{100 - ratio} {v}'])[0]
                 for v in args.variants if f'{ratio}/{100 - ratio} {v}' in runs}
        for text, ok, needs, value in TARGETS:
            if all(v in means for v in needs):
                checks.append(f"{ratio}/{100 - ratio}: {text}: {value(means)} {'✓' if ok(means) else '✗'}")
        worst = max((mean_std(r['avg'] for r in runs[f'{ratio}/{100 - ratio} {v}'])[1] for v in means), default=0)
        if len(args.seeds) > 1:
            checks.append(f"{ratio}/{100 - ratio}: seed std <= 3 (worst variant): {worst:.2f} "
                          f"{'✓' if worst <= 3 else '✗'}")
    threads = os.environ.get('OMP_NUM_THREADS', 'unset')
    tested = f'; test options {args.test_options}' if args.test_options else ''
    report = (f'{args.config}, split index {args.index}, seeds {args.seeds}, OMP_NUM_THREADS={threads}{tested}; '
              f'avg mAP (%) mean ± sample std over the seeds\n\n{table}\n\n' +
              '\n'.join(f'- {c}' for c in checks) + '\n')
    print(report)
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.work_dir) / f'{args.report}.md').write_text(report)
    (Path(args.work_dir) / f'{args.report}.json').write_text(json.dumps(runs, indent=1))
    return runs


if __name__ == '__main__':
    main()
