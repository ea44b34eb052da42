"""The whole THUMOS14 test set, features on disk -> merged Soft-NMS detections -> mAP, timed by phase.

    python benchmarks/benchmark_test_set.py                          # shipped config, 2 threads, float32
    python benchmarks/benchmark_test_set.py --autocast bfloat16      # or 'auto' (bf16 where the CPU has it natively)
    python benchmarks/benchmark_test_set.py --tadtr /tmp/tadtr       # + TadTR's own model on the same batches
    python benchmarks/benchmark_test_set.py --overlap 0 --batch-size 64 --data-dir /tmp/t14_feats   # keep the features
    python benchmarks/benchmark_test_set.py --quick                  # smoke-test sizes
    python benchmarks/benchmark_test_set.py --config configs/zeetad/zeetad_synthetic_thumos14_demo.py \
        --checkpoint work_dirs/demo/epoch_5.pth --overlap 0.25 0 --autocast none bfloat16   # real mAP, one table

The 212 test videos of ``data/thumos14/annotations/thumos14.json`` at their real durations get random features
in the shipped layout (I3D-grid ``.npy`` float32, 2048-d; CLIP 512-d at 1 fps in one HDF5 file), written once
(page cache warm, as on a second test run). Then exactly what ``tools/test.py`` runs: the config's test
``TADDataset`` (every test video: ``eval_videos='all'``), a ``DataLoader`` with ``tad_collate``,
``model.test_step`` under ``torch.no_grad`` (the configured model, a CLIP text tower of the configured
architecture with random weights, no download), ``TADMetric.process`` per batch and ``compute_metrics`` at
the end (merge of each video's windows, batched Soft-NMS, mAP against the real ground truth: about 0, since the
features are random). Speed does not depend on feature values.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.common.model import (THUMOS14_CONFIG, build_model, load_config,  # noqa: E402
                                               model_cfg_for_benchmark, video_windows)
from benchmarks.harness import format_table, machine_line, set_threads  # noqa: E402
from zeetad.models.inference_utils import resolve_autocast  # noqa: E402

print = functools.partial(print, flush=True)  # noqa: A001  (progress shows while it runs, also through a pipe)
GOAL_S = 30.0  # target: the whole THUMOS14 test set, features -> mAP, on 2 CPU threads
BLOCK_ROWS = 8192  # rows of the random block every video's features are cut from (cyclically, own offset)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default=THUMOS14_CONFIG)
    p.add_argument('--ann-file', default=str(ROOT / 'data/thumos14/annotations/thumos14.json'))
    p.add_argument('--threads', type=int, default=2, help='torch intra-op threads (default 2)')
    p.add_argument('--workers', type=int, default=0, help='DataLoader worker processes (default 0: the threads '
                   'get the cores; with workers they share them)')
    p.add_argument('--batch-size', type=int, nargs='+', help="windows per batch (default: the config's)")
    p.add_argument('--overlap', type=float, nargs='+', help="test window overlap (default: the config's)")
    p.add_argument('--autocast', nargs='+', choices=['none', 'bfloat16', 'float16', 'auto'],
                   help="model.test_cfg.autocast (default: the config's); several values, overlaps or batch "
                        "sizes: one run each, then a summary table")
    p.add_argument('--checkpoint', help="a trained checkpoint of --config: run on the config's own test data "
                   '(real mAP) instead of random THUMOS14-shaped features')
    p.add_argument('--data-dir', default=None, help='write the features here and reuse them on the next run '
                   '(default: a temporary folder, removed)')
    p.add_argument('--max-videos', type=int, default=None)
    p.add_argument('--tadtr', default=None, help="a TadTR checkout: also time its model on each batch's features")
    p.add_argument('--tiny-text', action='store_true', help='tiny random CLIP text tower')
    p.add_argument('--quick', action='store_true', help='8 videos, tiny text tower (smoke tests)')
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args(argv)
    if args.quick:
        args.tiny_text, args.max_videos = True, args.max_videos or 8
    return args


def write_features(root: Path, videos: list, loc_dim: int, clip_dim: int, clip_rows: dict, seed: int = 0) -> float:
    """Random features for ``videos`` (``(video_id, duration, num_features, _)``) under ``root``: ``loc/<id>.npy``
    ``(num_features, loc_dim)`` float32 and ``clip.h5`` ``(clip_rows[id], clip_dim)`` unit rows. Reuses a
    complete earlier write (``done.json`` lists what was written). Returns the seconds spent writing."""
    import h5py
    manifest = root / 'done.json'
    want = {vid: [num, clip_rows[vid]] for vid, _, num, _ in videos}
    if manifest.is_file() and json.loads(manifest.read_text()) == dict(loc_dim=loc_dim, clip_dim=clip_dim,
                                                                        videos=want):
        return 0.0
    t0 = time.perf_counter()
    (root / 'loc').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    block = rng.standard_normal((BLOCK_ROWS, loc_dim), dtype=np.float32)
    clip_block = rng.standard_normal((BLOCK_ROWS, clip_dim), dtype=np.float32)
    clip_block /= np.linalg.norm(clip_block, axis=1, keepdims=True)
    with h5py.File(root / 'clip.h5', 'w') as clip_h5:
        for vid, (num, n_clip) in want.items():
            rows = (int(rng.integers(BLOCK_ROWS)) + np.arange(num)) % BLOCK_ROWS
            np.save(root / 'loc' / f'{vid}.npy', block[rows])
            clip_h5.create_dataset(vid, data=clip_block[(int(rng.integers(BLOCK_ROWS)) + np.arange(n_clip))
                                                        % BLOCK_ROWS])
    manifest.write_text(json.dumps(dict(loc_dim=loc_dim, clip_dim=clip_dim, videos=want)))
    return time.perf_counter() - t0


def test_dataset_cfg(cfg, root: Path, ann_file: str, overlap, max_videos) -> dict:
    """The config's test dataset over the written features, every test video scored."""
    ds = cfg.test_dataloader.dataset.to_dict()
    ds['loc_features'] = dict(ds['loc_features'], root=str(root / 'loc'), prefix='', suffix='.npy')
    ds['clip_features'] = dict(ds['clip_features'], path=str(root / 'clip.h5'))
    ds.update(ann_file=ann_file, eval_videos='all', verbose=False, max_videos=max_videos)
    if overlap is not None:
        ds['window_overlap'] = overlap
    if ds.get('split') and not os.path.isabs(ds['split'].get('root', '/')):
        ds['split'] = dict(ds['split'], root=str(ROOT / ds['split']['root']))
    return ds


class Clock:
    """Wall and process-CPU seconds accumulated per phase."""

    def __init__(self):
        self.wall, self.cpu = {}, {}

    def add(self, phase: str, wall: float, cpu: float) -> None:
        self.wall[phase] = self.wall.get(phase, 0.0) + wall
        self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu

    def run(self, phase: str, fn, *args):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn(*args)
        self.add(phase, time.perf_counter() - t0, time.process_time() - c0)
        return result


def run_test_set(model, dataset, metric, batch_size: int, workers: int, tadtr=None) -> dict:
    """One pass over ``dataset`` as the test loop runs it; seconds per phase, metrics, TadTR's model seconds."""
    from torch.utils.data import DataLoader

    from zeetad.datasets import tad_collate
    clock, tadtr_s, first_model_s = Clock(), [0.0, 0.0], None
    merge = metric.merge
    metric.merge = lambda results: clock.run('merge + Soft-NMS', merge, results)  # timed inside compute_metrics
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t_start = time.perf_counter()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=tad_collate)
    batches, it = 0, iter(loader)
    with torch.no_grad():
        while True:
            try:
                batch = clock.run('data', next, it)
            except StopIteration:
                break
            outputs = clock.run('model', model.test_step, batch)
            if first_model_s is None:
                first_model_s = clock.wall['model']
            clock.run('metric.process', metric.process, batch, outputs)
            batches += 1
            if tadtr is not None:
                padded = model.data_preprocessor(batch)['inputs']  # short videos' windows padded, as for zeetad
                feats, mask = padded['loc'].transpose(1, 2).contiguous(), padded['mask']
                t0, c0 = time.perf_counter(), time.process_time()
                tadtr.predict(feats, mask)
                tadtr_s[0] += time.perf_counter() - t0
                tadtr_s[1] += time.process_time() - c0
    del it, loader  # workers exit, so their CPU time is counted below
    t0, c0 = time.perf_counter(), time.process_time()
    metrics = metric.evaluate(len(dataset))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    clock.add('mAP', wall - clock.wall['merge + Soft-NMS'], cpu - clock.cpu['merge + Soft-NMS'])
    total = time.perf_counter() - t_start - tadtr_s[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (children.ru_utime + children.ru_stime) - (children0.ru_utime + children0.ru_stime)
    return dict(total_s=total, wall_s=clock.wall, cpu_s=clock.cpu, batches=batches, metrics=metrics,
                first_batch_model_s=first_model_s, workers_cpu_s=workers_cpu,
                tadtr_model_s=tadtr_s if tadtr is not None else None)


def report(res: dict, windows: int, videos: int, threads: int, tadtr: bool) -> str:
    total = res['total_s']
    rows = []
    names = {'data': 'data: read + resample windows, collate (DataLoader)',
             'model': 'model: pad + forward + top-k (model.test_step)',
             'metric.process': 'post: detections to numpy (TADMetric.process)',
             'merge + Soft-NMS': f'post: merge windows + batched Soft-NMS ({videos} videos)',
             'mAP': 'post: mAP against the ground truth'}
    for key, label in names.items():
        rows.append((label, f'{res["wall_s"][key]:.2f}', f'{res["cpu_s"][key]:.2f}',
                     f'{100 * res["wall_s"][key] / total:.0f}%'))
    rows.append(('**total, features -> detections -> mAP**', f'**{total:.2f}**', f'{sum(res["cpu_s"].values()):.2f}',
                 '100%'))
    lines = [format_table(['phase', 'wall s', 'CPU s (this process)', 'share of wall'], rows)]
    if res['workers_cpu_s'] > 0:
        lines.append(f'DataLoader workers: {res["workers_cpu_s"]:.2f} CPU s in their own processes')
    lines.append(f'first batch of the model (incl. the class text embeddings, computed once): '
                 f'{res["first_batch_model_s"]:.2f} s')
    ref = [('goal (2 threads)', f'{GOAL_S:.1f} s', 'met' if total <= GOAL_S else 'missed')]
    if tadtr:
        tw, tc = res['tadtr_model_s']
        ref.append(('TadTR, its own model on the same batches (model only; not in the total)',
                    f'{tw:.2f} s wall, {tc:.2f} CPU s',
                    f'zeetad model / TadTR: {res["wall_s"]["model"] / tw:.2f} wall, '
                    f'{res["cpu_s"]["model"] / tc:.2f} CPU'))
    lines += ['', format_table(['reference', 'time', 'zeetad total'], ref, align='lrl')]
    lines.append(f'\n{windows} windows, {videos} videos in {total:.2f} s: {windows / total:.1f} windows/s, '
                 f'{videos / total:.2f} videos/s ({threads} torch threads)')
    return '\n'.join(lines)


def _runs(args, cfg) -> list[tuple]:
    """Every (overlap, batch size, autocast) combination asked for; None: the config's."""
    overlaps = args.overlap or [None]
    batches = args.batch_size or [cfg.test_dataloader.batch_size]
    autocasts = [None if a == 'none' else a for a in args.autocast] if args.autocast else ['config']
    return [(o, b, a) for o in overlaps for b in batches for a in autocasts]


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = set_threads(args.threads)
    from zeetad.utils.heap import retain_freed_heap
    retain_freed_heap()  # as zeetad test does
    import zeetad.datasets  # noqa: F401  (registers the dataset, the metric, the collate function)
    import zeetad.evaluation  # noqa: F401
    from zeetad.datasets.timebase import make_timebase
    from zeetad.registry import DATASETS, METRICS
    checkpoint = args.checkpoint
    if checkpoint:  # the config's own data and a trained model: real mAP
        from zeetad.apis.model_loading import init_detector, load_detect_config
        cfg = load_detect_config(args.config)
    else:
        cfg = load_config(args.config)
    ds_cfg = cfg.test_dataloader.dataset
    summary, outs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if checkpoint:
            model = init_detector(cfg, checkpoint)
        else:
            model = build_model(model_cfg_for_benchmark(cfg, 'tiny' if args.tiny_text else 'random', tmp)).model
        model.eval()
        build_s, write_s = time.perf_counter() - t0, 0.0
        configured_autocast = model.test_cfg['autocast']
        if not checkpoint:
            videos = video_windows(args.ann_file, 'Test', size=ds_cfg.window_size, overlap=ds_cfg.window_overlap)
            videos = videos[:args.max_videos] if args.max_videos else videos
            clip_rows = {vid: make_timebase(ds_cfg.clip_features.timebase, None).num_features(duration)
                         for vid, duration, _, _ in videos}
            root = Path(args.data_dir) if args.data_dir else Path(tmp) / 'features'
            loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
            write_s = write_features(root, videos, loc_dim, clip_dim, clip_rows)
        tadtr = None
        if args.tadtr:
            from benchmarks.common.compare import TADTR_ROWS
            from benchmarks.common.tadtr import load_tadtr
            tadtr = load_tadtr(args.tadtr, next(iter(TADTR_ROWS.values())))  # as it runs on a CPU
        print(f'setup (not timed below): model {build_s:.1f} s, features written {write_s:.1f} s; '
              f'{threads} torch threads, {args.workers} loader workers, torch {torch.__version__}')
        print(machine_line(precision='per run below ("runs as")'))
        for overlap, batch_size, autocast in _runs(args, cfg):
            model.test_cfg['autocast'] = configured_autocast if autocast == 'config' else autocast
            if checkpoint:
                ds = cfg.test_dataloader.dataset.to_dict()
                ds.update(verbose=False, **({} if overlap is None else dict(window_overlap=overlap)))
            else:
                ds = test_dataset_cfg(cfg, root, args.ann_file, overlap, args.max_videos)
            dataset = DATASETS.build(ds)
            metric = METRICS.build(cfg.test_evaluator.to_dict())
            metric.dataset_meta = dataset.metainfo
            n_videos = len(dataset.metainfo['durations'])
            runs_as = resolve_autocast(model.test_cfg['autocast'])
            print(f'\n## {"Test set of " + args.config if checkpoint else "Whole THUMOS14 test set"}: '
                  f'{n_videos} videos, {len(dataset)} windows of {ds_cfg.window_size} (overlap '
                  f'{dataset.window_overlap}), batch {batch_size}, autocast {model.test_cfg["autocast"]} '
                  f'(runs as {runs_as or "float32"}), features -> detections -> mAP'
                  + ('' if checkpoint else ' (mAP about 0: random features)'))
            res = run_test_set(model, dataset, metric, batch_size, args.workers, tadtr)
            print(report(res, len(dataset), n_videos, threads, tadtr is not None))
            avg = res['metrics']['average_mAP']
            summary.append((dataset.window_overlap, batch_size, runs_as or 'float32', len(dataset),
                            f'{res["total_s"]:.1f}', f'{res["cpu_s"]["model"]:.1f}',
                            f'{len(dataset) / res["total_s"]:.1f}', f'{100 * avg:.2f}'))
            outs.append(dict(res, windows=len(dataset), videos=n_videos, threads=threads, batch_size=batch_size,
                             workers=args.workers, autocast=runs_as, overlap=dataset.window_overlap,
                             windows_per_s=len(dataset) / res['total_s'], torch=torch.__version__, goal_s=GOAL_S,
                             checkpoint=checkpoint))
    if len(summary) > 1:
        print('\n## Summary')
        print(format_table(['overlap', 'batch', 'precision', 'windows', 'total s', 'model CPU s', 'windows/s',
                            'avg mAP'], summary))
    out = outs[0] if len(outs) == 1 else dict(runs=outs)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=float))
    return out


if __name__ == '__main__':
    main()
