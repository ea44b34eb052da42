#!/usr/bin/env python
"""Training-pipeline throughput for npy vs HDF5 localisation features at THUMOS14 scale.

    python benchmarks/benchmark_data.py                        # 20 videos x 2304 x 2048, ~3 min on 2 cores
    python benchmarks/benchmark_data.py --step-rate 1.1     # model rate from benchmark_model.py, no model run
    python benchmarks/benchmark_data.py --quick                # smoke-test sizes, seconds

Writes a temporary dataset (I3D-grid localisation features as per-video .npy files and as one HDF5 file, in
float32 and float16, plus an HDF5 CLIP stream at 1 fps), then times TADDataset items through a torch
DataLoader (tad_collate) and the model's TADDataPreprocessor, for each format x dtype x input (windows of 128
at the training overlap 0.75, or whole 2304-snippet videos) x worker count. The ratio column compares the
pipeline with the ZEETAD THUMOS14 training step measured in the same run (or given with --step-rate), in
snippets per second; the target is >= 10x so that loading never stalls training.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from benchmarks.common.data import dataset_config, time_loader, write_feature_dataset  # noqa: E402
from benchmarks.common.model import (THUMOS14_CONFIG, build_model, build_optim_wrapper, load_config,  # noqa: E402
                                      model_cfg_for_benchmark, split_classes, synthetic_windows, train_step_phases)
from benchmarks.harness import format_table, load_note, machine_line, set_threads  # noqa: E402

TARGET_RATIO = 10.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--videos', type=int, default=20, help='videos with distinct feature files')
    p.add_argument('--annotated-videos', type=int, default=200,
                   help='videos in the annotation (THUMOS14 validation: 200); the extra ones link to the distinct '
                        'features, so annotation-sized costs are at full scale')
    p.add_argument('--length', type=int, default=2304, help='snippets per video')
    p.add_argument('--loc-dim', type=int, default=2048)
    p.add_argument('--clip-dim', type=int, default=512)
    p.add_argument('--dtypes', nargs='+', default=['float32', 'float16'])
    p.add_argument('--formats', nargs='+', default=['npy', 'hdf5'], choices=['npy', 'hdf5'])
    p.add_argument('--inputs', nargs='+', default=['128', 'full'],
                   help="window sizes, and/or 'full' for whole videos as one sample")
    p.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--batches', type=int, default=6, help='timed batches per window configuration')
    p.add_argument('--full-batches', type=int, default=2, help='timed batches per whole-video configuration')
    p.add_argument('--root', help='write the dataset here and keep it (default: a temporary folder)')
    p.add_argument('--config', default=THUMOS14_CONFIG, help='model config for the step rate')
    p.add_argument('--step-rate', type=float, help='model samples/s at --model-batch windows of --model-window '
                   '(benchmarks/benchmark_model.py "train step rate"); skips measuring it')
    p.add_argument('--step-rate-full', type=float, help='model samples/s on whole --length videos; default: '
                   'measured (one step at batch 1) unless --step-rate is given, then estimated linearly')
    p.add_argument('--model-batch', type=int, default=8)
    p.add_argument('--model-window', type=int, default=128)
    p.add_argument('--model-iters', type=int, default=2, help='timed model steps (after one warm-up)')
    p.add_argument('--tiny-text', action='store_true', help='tiny random CLIP text tower for the model')
    p.add_argument('--threads', type=int, default=None, help='torch threads in the main process')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--quick', action='store_true', help='tiny sizes for smoke tests')
    args = p.parse_args(argv)
    if args.quick:
        args.videos, args.length, args.loc_dim = min(args.videos, 3), min(args.length, 256), min(args.loc_dim, 256)
        args.annotated_videos = min(args.annotated_videos, 6)
        args.batch_size, args.batches, args.full_batches = min(args.batch_size, 4), 2, 1
        args.model_batch, args.model_window, args.model_iters, args.tiny_text = 2, 32, 1, True
    return args


def model_rates(args, cfg) -> dict:
    """Model training rate in samples/s on windows and on whole videos (measured or given)."""
    rates = dict(window=args.step_rate, full=args.step_rate_full, source='given (--step-rate)')
    if args.step_rate is not None:
        if rates['full'] is None:
            rates['full'] = args.step_rate * args.model_window / args.length
            rates['full_source'] = 'estimated: linear in snippets from the window rate'
        return rates
    with tempfile.TemporaryDirectory() as tmp:
        built = build_model(model_cfg_for_benchmark(cfg, 'tiny' if args.tiny_text else 'random', tmp))
    model = built.model.train()
    optim = build_optim_wrapper(model, cfg)
    loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
    classes = split_classes(cfg, 'train')
    batch = synthetic_windows(args.model_batch, args.model_window, loc_dim, clip_dim, classes)
    train_step_phases(model, optim, batch)
    times = sorted(train_step_phases(model, optim, batch)['total'] for _ in range(args.model_iters))
    rates['window'] = args.model_batch / times[len(times) // 2]
    rates['source'] = (f'measured: {enc_name(model)} text tower, batch {args.model_batch}, windows of '
                       f'{args.model_window}, median of {args.model_iters} steps')
    if rates['full'] is None and any(i == 'full' for i in args.inputs):
        long_batch = synthetic_windows(1, args.length, loc_dim, clip_dim, classes, seed=1)
        rates['full'] = 1.0 / train_step_phases(model, optim, long_batch)['total']
        rates['full_source'] = f'measured: one step at batch 1 on {args.length} snippets'
    return rates


def enc_name(model) -> str:
    return model.classifier.text_encoder.model_name


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = set_threads(args.threads)
    cfg = load_config(args.config)
    from zeetad.models.data_preprocessor import TADDataPreprocessor
    from zeetad.registry import DATASETS
    import zeetad.datasets  # noqa: F401  (registers TADDataset and the transforms)
    # Instances get only seen-class labels and the dataset runs closed-set: with a handful of videos not every
    # split class would occur, and the split changes which windows are kept, not what loading one costs.
    split = None
    classes = split_classes(cfg, 'train')
    root = args.root or tempfile.mkdtemp(prefix='zeetad_bench_data_')
    print(f'zeetad data benchmark: {args.annotated_videos} videos x {args.length} snippets x {args.loc_dim} '
          f'(+ CLIP {args.clip_dim}-d at 1 fps), batch {args.batch_size}, torch {torch.__version__}, '
          f'{threads} torch threads')
    print(machine_line(precision='features as stored (the dtype column)'))
    if load_note():
        print(load_note())
    try:
        t0 = time.perf_counter()
        desc = write_feature_dataset(root, classes, args.videos, args.length, args.loc_dim, args.clip_dim,
                                     args.dtypes, args.formats, annotated_videos=args.annotated_videos)
        print(f'wrote {sum(desc["bytes"].values()) / 2**30:.2f} GiB of localisation features to {root} in '
              f'{time.perf_counter() - t0:.1f} s; {desc["annotated_videos"]} annotated videos share the '
              f'{args.videos} distinct feature arrays (reads hit the page cache: warm-cache figures)')
        rates = model_rates(args, cfg)
        model_snippets = rates['window'] * args.model_window
        model_full_snippets = rates['full'] * args.length if rates['full'] else model_snippets
        print(f'model step rate: {rates["window"]:.2f} samples/s = {model_snippets:.0f} snippets/s '
              f'({rates["source"]}); whole videos: {model_full_snippets:.0f} snippets/s '
              f'({rates.get("full_source", rates["source"])})')
        pre = TADDataPreprocessor(l2_normalize_clip=True)
        rows, results = [], []
        for inp in args.inputs:
            window = None if inp == 'full' else int(inp)
            for fmt in args.formats:
                for dtype in args.dtypes:
                    t0 = time.perf_counter()
                    ds = DATASETS.build(dataset_config(desc, fmt, dtype, window, split))
                    init_s = time.perf_counter() - t0
                    for workers in args.workers:
                        n_batches = args.full_batches if window is None else args.batches
                        r = time_loader(ds, args.batch_size, workers, n_batches, pre)
                        ref = model_full_snippets if window is None else model_snippets
                        ratio = r['snippets_per_s'] / ref
                        mb_s = r['snippets_per_s'] * args.loc_dim * torch.finfo(getattr(torch, dtype)).bits / 8 / 1e6
                        label = f'whole video ({args.length})' if window is None else f'windows of {window}'
                        rows.append((fmt, dtype, label, len(ds), workers, f'{init_s:.2f}', f'{r["startup_s"]:.2f}',
                                     f'{r["samples_per_s"]:.1f}', f'{mb_s:.0f}', f'{ratio:.1f}x',
                                     'ok' if ratio >= TARGET_RATIO else 'BELOW'))
                        results.append(dict(format=fmt, dtype=dtype, input=inp, items=len(ds), workers=workers,
                                            init_s=init_s, ratio=ratio, loc_mb_per_s=mb_s, **r))
                        print(f'  {fmt} {dtype} {label} workers={workers}: {r["samples_per_s"]:.1f} samples/s',
                              flush=True)
        print(f'\n## Training pipeline throughput (dataset items + tad_collate + TADDataPreprocessor; '
              f'batch {args.batch_size}; {args.batches} timed batches for windows, {args.full_batches} for '
              f'whole videos, after one warm-up batch)')
        print(format_table(['format', 'dtype', 'input', 'items', 'workers', 'init s', 'startup s', 'samples/s',
                            'loc MB/s', 'x model', f'>= {TARGET_RATIO:g}x'], rows, align='lllrrrrrrrl'))
        print('x model: pipeline snippets/s over the model\'s training snippets/s for the same input; init: '
              'TADDataset construction; startup: first batch incl. worker start; loc MB/s: localisation '
              'features delivered, at the stored dtype')
        out = dict(args={k: v for k, v in vars(args).items()}, model_rates=rates, results=results,
                   bytes={f'{k[0]}/{k[1]}': v for k, v in desc['bytes'].items()})
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        return out
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
