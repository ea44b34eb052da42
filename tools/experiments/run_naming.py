#!/usr/bin/env python
"""How well detections are named, for any list of names: the calibrated score against the softmax over the typed
names and CLIP's own zero-shot rule, all on the same trained checkpoints (test-time choices need no retraining).

    python tools/experiments/run_naming.py [--config CFG] [--indices 1 2] [--seeds 0 1 2]
                                  [--work-dir work_dirs/naming] [--closed-set] [--cfg-options k=v ...]

Per split and seed it trains (or reuses) ``<work-dir>/s<index>_seed<seed>/zeetad`` (and ``closed_set`` with
``--closed-set``), then prints, mean ± sample std over the runs:
  K names        avg mAP on the unseen classes with their K names, per scoring rule (calibrated: shipped; softmax:
                 softmax over the typed names x actionness; clip: CLIP's zero-shot rule on the same proposals,
                 softmax(100 cos(frames pooled in the proposal, text)) x actionness); shuffled-names control;
                 best-scored-right-name share; precision of detections scoring >= 0.5 (right: it covers, at
                 tIoU >= 0.5, an annotated instance of its name, seen classes included) and their number n
  one name       each unseen name typed alone over every test video, detections pooled: avg mAP, video-level AUROC
                 of "is this name present" from the top score, precision at >= 0.5
  many names     the K names + 15 seen names + 50 unrelated action names: unseen avg mAP, precision at >= 0.5
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

RULES = {'calibrated': dict(class_score='calibrated'),
         'softmax': dict(class_score='softmax', clip_prior_weight=0.0),
         'clip': dict(class_score='softmax', clip_prior_weight=1.0)}
NUM_SEEN, NUM_UNRELATED = 15, 50


class Bench:
    """One trained checkpoint, tested with any names and scoring rule."""

    def __init__(self, config: str, work_dir: str, options: dict):
        from zeetad.engine.checkpoint_io import find_latest_checkpoint
        from zeetad.engine.runner_setup import build_runner, load_config
        from zeetad.registry import METRICS as ZMETRICS
        cfg = load_config(config, options, work_dir=work_dir)
        cfg.load_from = find_latest_checkpoint(work_dir)
        cfg.test_dataloader['num_workers'] = 0
        cfg.test_dataloader.pop('persistent_workers', None)
        self.runner = build_runner(cfg, stage='test')
        self.runner.load_or_resume()
        self.model = self.runner.model.eval()
        self.base_test_cfg = dict(self.model.test_cfg)
        self.loader = self.runner.build_dataloader(cfg.test_dataloader)
        self.meta = self.loader.dataset.metainfo
        self.full_gt = full_ground_truth(self.loader.dataset, self.meta['ground_truth'])
        self.metric_cfg = dict(cfg.test_evaluator, out_file=None, result_dir=None)
        self.metrics = ZMETRICS

    def refit(self, config: str, options: dict) -> dict:
        """Refit the name scorer on one pass over the training split (as the end of training does)."""
        import torch
        from zeetad.engine import fit_name_scorer
        from zeetad.engine.runner_setup import load_config
        cfg = load_config(config, options)
        loader = self.runner.build_dataloader(dict(cfg.train_dataloader, num_workers=0, persistent_workers=False))
        torch.manual_seed(0)
        stats = fit_name_scorer(self.model, loader)
        print(f'refitted name scorer: {stats}', flush=True)
        return stats

    def detections(self, names, **test_cfg) -> dict:
        import torch
        from zeetad.evaluation.postprocess import to_official_results
        self.model.test_cfg = {**self.base_test_cfg, 'class_names': list(names), **test_cfg}
        metric = self.metrics.build(self.metric_cfg)
        metric.dataset_meta = self.meta
        with torch.no_grad():
            for batch in self.loader:
                metric.process(batch, self.model.test_step(batch))
        return to_official_results(metric.merge(metric.results), list(names))


def evaluate_run(bench, seen_names, closed: bool, k_only: bool = False) -> dict:
    from zeetad.evaluation.detection_map import evaluate_detections
    from zeetad.evaluation.naming import precision_at, presence_auroc, right_name_share
    from zeetad.text.unrelated_names import UNRELATED_ACTION_NAMES
    gt, unseen, full = bench.meta['ground_truth'], list(bench.meta['classes']), bench.full_gt

    def m_ap(dets):
        return 100 * evaluate_detections(gt, dets, classes=unseen)['average']

    row = {}
    for rule, test_cfg in RULES.items():
        if rule == 'clip' and closed:
            continue
        dets = bench.detections(unseen, **test_cfg)
        row[f'K {rule} mAP'] = m_ap(dets)
        if closed:
            continue
        row[f'K {rule} right name %'] = 100 * right_name_share(gt, dets, unseen)['share']
        row[f'K {rule} prec@0.5'] = 100 * precision_at(full, dets)['precision']
        row[f'K {rule} n@0.5'] = precision_at(full, dets)['detections']
    if closed:
        return row
    row['K shuffled mAP'] = m_ap(bench.detections(unseen, shuffle_class_names=True))
    if k_only:
        return row
    for rule in ('calibrated', 'softmax'):
        single = {u: bench.detections([u], **RULES[rule]) for u in unseen}
        pooled = {v: [d for u in unseen for d in single[u].get(v, [])] for v in gt}
        row[f'1 {rule} mAP'] = m_ap(pooled)
        row[f'1 {rule} AUROC'] = 100 * presence_auroc(gt, single)
        row[f'1 {rule} prec@0.5'] = 100 * precision_at(full, pooled)['precision']
        row[f'1 {rule} n@0.5'] = precision_at(full, pooled)['detections']
    extra = [n for n in UNRELATED_ACTION_NAMES if n not in unseen + seen_names][:NUM_UNRELATED]
    many = unseen + seen_names[:NUM_SEEN] + extra
    row['many K'] = len(many)
    for rule in ('calibrated', 'softmax'):
        dets = bench.detections(many, **RULES[rule])
        row[f'many {rule} mAP'] = m_ap(dets)
        row[f'many {rule} prec@0.5'] = 100 * precision_at(full, dets)['precision']
        row[f'many {rule} n@0.5'] = precision_at(full, dets)['detections']
    return row


def main(argv=None):
    from mmengine.config import DictAction

    from zeetad.engine.checkpoint_io import find_latest_checkpoint
    from zeetad.engine.experiments import mean_std, train_and_test
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='configs/zeetad/zeetad_synthetic_hard.py')
    p.add_argument('--indices', type=int, nargs='+', default=[1, 2], help='75/25 split indices')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--work-dir', default='work_dirs/naming')
    p.add_argument('--closed-set', action='store_true', help='also train on all classes (the upper bound)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, help='applied to every run')
    p.add_argument('--refit', action='store_true',
                   help='refit model.name_scorer on the training split before testing (to compare its options, '
                        'e.g. --cfg-options model.name_scorer.mode=factorized, on the same trained checkpoints)')
    p.add_argument('--k-only', action='store_true', help='only the K-names rows (and the shuffled control)')
    p.add_argument('--report', default='naming', help='<work-dir>/<report>.{md,json}')
    args = p.parse_args(argv)
    rows = {}  # 'split i' -> [row per seed]
    for index in args.indices:
        for seed in args.seeds:
            for variant in ('zeetad', 'closed_set') if args.closed_set else ('zeetad',):
                tic = time.time()
                opts = {**args.cfg_options, 'split.index': index, 'randomness.seed': seed}
                if variant == 'closed_set':
                    opts['split.train_on_all'] = True
                work_dir = os.path.join(args.work_dir, f's{index}_seed{seed}', variant)
                if find_latest_checkpoint(work_dir) is None:
                    train_and_test(args.config, work_dir, opts)
                bench = Bench(args.config, work_dir, opts)
                if args.refit:
                    bench.refit(args.config, opts)
                row = evaluate_run(bench, seen_names(args.config, opts), variant == 'closed_set', args.k_only)
                rows.setdefault(f'split {index} {variant}', []).append(row)
                print(f'== split {index} seed {seed} {variant} ({time.time() - tic:.0f} s): '
                      + ', '.join(f'{k} {v:.1f}' for k, v in row.items()), flush=True)
    lines = [f'{args.config}, 75/25 splits {args.indices}, seeds {args.seeds}, '
             f'OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}; mean ± sample std over the seeds', '']
    for name, runs in rows.items():
        lines.append(f'### {name}')
        lines += [f'- {k}: {mean_std(r[k] for r in runs)[0]:.2f} ± {mean_std(r[k] for r in runs)[1]:.2f}'
                  for k in runs[0]]
        lines.append('')
    report = '\n'.join(lines)
    print(report)
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.work_dir) / f'{args.report}.md').write_text(report)
    (Path(args.work_dir) / f'{args.report}.json').write_text(json.dumps(rows, indent=1))
    return rows


def full_ground_truth(dataset, ground_truth: dict) -> dict:
    """Every annotated instance (seen classes too) of the test videos: a detection of a seen name on a seen
    instance is right; the mAP still scores the test classes only."""
    from zeetad.datasets.annotations import load_annotations, to_ground_truth
    records = [r for r in load_annotations(dataset.ann_file, ann_format=dataset.ann_format) if r.video_id in ground_truth]
    return {**{v: [] for v in ground_truth}, **to_ground_truth(records)}


def seen_names(config: str, options: dict) -> list:
    """The split's training (seen) class names, from the training dataset's metadata."""
    from zeetad.engine.runner_setup import load_config
    from zeetad.registry import DATASETS
    cfg = load_config(config, options)
    ds = DATASETS.build(dict(cfg.train_dataloader.dataset, verbose=False))
    return list(ds.metainfo['classes'])


if __name__ == '__main__':
    main()
