#!/usr/bin/env python
"""ZEAL benchmarks: synthetic-curve mAP vs noise, interval-stage time, LVLM-stage throughput.

    python benchmarks/benchmark_zeal.py                       # all sections, CPU
    python benchmarks/benchmark_zeal.py --sections lvlm --lvlm-size llava-7b --device cuda  # real-size, random weights

* ``synthetic``: ground-truth-shaped start/end curves plus noise (zeetad/testing/synthetic_curves.py) over the
  real THUMOS14 test annotations, scored classes = the unseen classes of the chosen split; mAP for ZEAL's
  oracle class labels and for a top-k filter on synthetic actionness, averaged over --seeds.
* ``intervals``: wall time of the interval stage over every THUMOS14 test video (3 kept classes per video,
  and all 20 classes), best of --repeats.
* ``lvlm``: (frame, question) pairs and frames per second of the yes/no scorer with a randomly initialised
  LLaVA (``tiny`` on CPU; ``llava-7b`` has LLaVA-1.5-7B's shapes and needs a GPU).
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NOISES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sections', nargs='+', default=['synthetic', 'intervals', 'lvlm'],
                   choices=['synthetic', 'intervals', 'lvlm'])
    p.add_argument('--ann-file', default='data/thumos14/annotations/thumos14.json')
    p.add_argument('--splits-root', default='data/splits')
    p.add_argument('--ratio', type=int, default=75)
    p.add_argument('--split-index', type=int, default=0)
    p.add_argument('--noises', type=float, nargs='+', default=list(NOISES))
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--top-k', type=int, default=3)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--lvlm-size', default='tiny', choices=['tiny', 'llava-7b'])
    p.add_argument('--device', default='cpu')
    p.add_argument('--dtype', default='auto')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--frames', type=int, default=32, help='frames scored in the LVLM measurement')
    p.add_argument('--frame-size', type=int, nargs=2, default=[180, 320], metavar=('H', 'W'))
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch\'s choice)')
    p.add_argument('--out', help='write all figures as JSON here')
    return p.parse_args(argv)


def test_set(args, scored_only: bool):
    """(ground truth, classes, durations) of the THUMOS14 test videos (unseen classes of the split, or all)."""
    from zeetad.datasets.annotations import VideoRecord, load_annotations, to_ground_truth
    from zeetad.datasets.splits import resolve_split
    records = load_annotations(args.ann_file)
    all_classes = sorted({i.label for r in records for i in r.instances})
    test = [r for r in records if r.subset.lower() == 'test']
    if scored_only:
        split = resolve_split(dict(mode='zero_shot', root=args.splits_root, dataset='THUMOS14', ratio=args.ratio,
                                   index=args.split_index), all_classes)
        classes = list(split.test_classes)
        test = [VideoRecord(r.video_id, r.subset, r.duration, r.fps, [i for i in r.instances if i.label in classes])
                for r in test]
        test = [r for r in test if r.instances]
    else:
        classes = all_classes
    return to_ground_truth(test, classes), classes, {r.video_id: r.duration for r in test}


def bench_synthetic(args) -> dict:
    import numpy as np

    from zeetad.testing.synthetic_eval import evaluate_synthetic
    gt, classes, durations = test_set(args, scored_only=True)
    rows = []
    for noise in args.noises:
        row = {'noise': noise}
        for mode in ('labels', 'top_k'):
            runs = [evaluate_synthetic(gt, classes, durations, noise, class_filter=mode, top_k=args.top_k, seed=s)
                    for s in args.seeds]
            row[mode] = {t: float(np.mean([r['mAP'][t] for r in runs])) for t in runs[0]['mAP']}
            row[mode]['avg'] = float(np.mean([r['average'] for r in runs]))
        rows.append(row)
    print(f'\nSynthetic curves over THUMOS14 test ({len(gt)} videos, unseen classes of {args.ratio}/'
          f'{100 - args.ratio} split {args.split_index}: {", ".join(classes)}); mAP (%), mean of seeds {args.seeds}')
    tious = [t for t in rows[0]['labels'] if t != 'avg']
    print('| noise | ' + ' | '.join(f'@{t}' for t in tious) + ' | avg (oracle labels) | '
          f'avg (top-{args.top_k} filter) |')
    print('|---' * (len(tious) + 3) + '|')
    for row in rows:
        cells = ' | '.join(f'{100 * row["labels"][t]:.1f}' for t in tious)
        print(f'| {row["noise"]:g} | {cells} | {100 * row["labels"]["avg"]:.1f} | {100 * row["top_k"]["avg"]:.1f} |')
    return {'videos': len(gt), 'classes': classes, 'rows': rows}


def bench_intervals(args) -> dict:
    from zeetad.zeal.interval_nms import localize_curves
    from zeetad.testing.synthetic_curves import synthetic_dataset_curves
    from zeetad.testing.synthetic_eval import pick_classes
    gt, classes, durations = test_set(args, scored_only=False)
    curves = synthetic_dataset_curves(gt, classes, durations, fps=1.0, noise=0.3, seed=0)
    out = {}
    for label, kept_of in (('3 classes/video', lambda a: pick_classes(a, 3)),
                           ('all 20 classes/video', lambda a: list(range(len(classes))))):
        rows, acts = [], []
        for conf, act in curves.values():
            for k in kept_of(act):
                rows.append(conf[:, k])
                acts.append(act[k])
        times = []
        for _ in range(args.repeats):
            tic = time.perf_counter()
            result = localize_curves(rows, acts)
            times.append(time.perf_counter() - tic)
        out[label] = {'videos': len(curves), 'curves': len(rows), 'frames': int(sum(len(r) for r in rows)),
                      'seconds_best': min(times), 'seconds_all': times,
                      'detections': int(sum(len(s) for s, _ in result))}
        print(f'interval stage, THUMOS14 test, {label}: {len(curves)} videos, {len(rows)} curves, '
              f'{out[label]["frames"]} frames -> {min(times):.2f} s (best of {args.repeats}; all: '
              f'{", ".join(f"{t:.2f}" for t in times)})')
    return out


def bench_lvlm(args) -> dict:
    import numpy as np
    import torch

    from zeetad.zeal.lvlm_scorer import YesNoScorer
    from zeetad.zeal.lvlm_stage import video_questions
    from zeetad.zeal.queries import template_queries
    from zeetad.testing.tiny_lvlm import make_tiny_lvlm
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        if args.lvlm_size == 'tiny':
            scorer = YesNoScorer.from_pretrained(make_tiny_lvlm(tmp), device=args.device, dtype=args.dtype,
                                                 batch_size=args.batch_size)
        else:  # skip writing 14 GB to disk: build on the device directly
            dtype = 'bfloat16' if args.dtype == 'auto' else args.dtype
            with torch.device(args.device):
                model, processor = make_tiny_lvlm(tmp, size=args.lvlm_size, save=False, dtype=dtype)
            scorer = YesNoScorer(model, processor, batch_size=args.batch_size)
        build_s = time.perf_counter() - tic
    classes = ['HammerThrow', 'PoleVault', 'ThrowDiscus']
    questions = video_questions(classes, template_queries(classes))
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, tuple(args.frame_size) + (3,), dtype=np.uint8) for _ in range(args.frames)]
    scorer.score_frames(frames[:2], questions)  # warm-up
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
    tic = time.perf_counter()
    scorer.score_frames(frames, questions)
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
    sec = time.perf_counter() - tic
    pairs = len(frames) * len(questions)
    res = {'size': args.lvlm_size, 'device': args.device, 'dtype': str(next(scorer.model.parameters()).dtype),
           'params_M': sum(p.numel() for p in scorer.model.parameters()) / 1e6, 'batch_size': args.batch_size,
           'frame_size': list(args.frame_size), 'frames': len(frames), 'questions_per_frame': len(questions),
           'pairs_per_s': pairs / sec, 'frames_per_s': len(frames) / sec, 'build_s': build_s,
           'torch_threads': torch.get_num_threads()}
    print(f'LVLM stage, {args.lvlm_size} LLaVA ({res["params_M"]:.1f} M params, {res["dtype"]}) on {args.device}: '
          f'{res["pairs_per_s"]:.1f} (frame, question) pairs/s = {res["frames_per_s"]:.2f} frames/s with '
          f'{len(questions)} questions per frame (3 kept classes), batch {args.batch_size}')
    return res


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    results = {}
    for section in args.sections:
        bench = {'synthetic': bench_synthetic, 'intervals': bench_intervals, 'lvlm': bench_lvlm}[section]
        results[section] = bench(args)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
