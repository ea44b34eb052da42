"""Where the time of whole-test-set inference goes: model parts, whole videos vs windows, post-processing.

    python benchmarks/benchmark_inference.py [--threads 2] [--batch-size 32] [--batches 2] [--json OUT]
    python benchmarks/benchmark_inference.py --quick          # smoke-test sizes (tiny text tower)

THUMOS14 test set shapes (212 videos of data/thumos14/annotations/thumos14.json on the I3D grid, windows of
128, overlap 0.25: 3,528 windows) with random features and a CLIP text tower of the configured architecture
with random weights (as benchmark_model.py). Measured in one run: the predict path's windows/s and a
``torch.profiler`` breakdown of one batch by model part; one whole video of ``--long-length`` snippets against
its overlapping windows; ``merge_video_detections`` (batched, as ``TADMetric``) against one merge call per
video on fake window detections of every test video. Data loading is not included (``benchmark_data.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault('KINETO_LOG_LEVEL', '5')

import numpy as np  # noqa: E402
import torch  # noqa: E402

from zeetad.datasets.windows import enumerate_windows  # noqa: E402
from zeetad.evaluation.postprocess import merge_video_detections  # noqa: E402
from benchmarks.common.model import (THUMOS14_CONFIG, build_model, load_config, model_cfg_for_benchmark,  # noqa: E402
                                      split_classes, synthetic_windows, video_windows)
from benchmarks.harness import format_table, set_threads  # noqa: E402
from benchmarks.common.model_report import _PARTS, _fake_window_detections, zeetad_range_hooks  # noqa: E402
from benchmarks.common.profile_ranges import profile_parts  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', default=THUMOS14_CONFIG)
    p.add_argument('--ann-file', default=str(ROOT / 'data/thumos14/annotations/thumos14.json'))
    p.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    p.add_argument('--batch-size', type=int, default=32, help='windows per predict batch')
    p.add_argument('--batches', type=int, default=2, help='timed batches (after one warm-up)')
    p.add_argument('--window', type=int, default=128)
    p.add_argument('--overlap', type=float, default=0.25)
    p.add_argument('--long-length', type=int, default=2304, help='snippets of the whole-video comparison')
    p.add_argument('--tiny-text', action='store_true', help='tiny random CLIP text tower')
    p.add_argument('--quick', action='store_true', help='tiny sizes for smoke tests (implies --tiny-text)')
    p.add_argument('--json', help='also write the results here')
    args = p.parse_args(argv)
    if args.quick:
        args.tiny_text, args.batch_size, args.batches, args.long_length = True, 4, 1, 256
    return args


def model_section(model, windows: list, args, classes, out: dict) -> None:
    loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
    bs = args.batch_size
    batches = [synthetic_windows(0, 0, loc_dim, clip_dim, classes, seed=10 + i, lengths=windows[i * bs:(i + 1) * bs])
               for i in range(args.batches + 1)]
    with torch.no_grad():
        model.test_step(batches[0])  # warm-up; class text embeddings are cached from here on
        t0, c0 = time.perf_counter(), time.process_time()
        for b in batches[1:]:
            model.test_step(b)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        timed = sum(len(b['inputs']) for b in batches[1:])
        hooks = zeetad_range_hooks(model)
        try:
            with profile_parts(hooks) as prof:
                t0 = time.perf_counter()
                model.test_step(batches[1])
                profiled_ms = (time.perf_counter() - t0) * 1e3
        finally:
            hooks.remove()
        # One whole video against the overlapping windows that cover it.
        n_win = len(enumerate_windows(args.long_length, args.window, args.overlap))
        whole = synthetic_windows(1, args.long_length, loc_dim, clip_dim, classes, seed=3)
        wins = synthetic_windows(n_win, args.window, loc_dim, clip_dim, classes, seed=4)
        model.test_step(whole)
        t0 = time.process_time()
        model.test_step(whole)
        whole_s = time.process_time() - t0
        t0 = time.process_time()
        model.test_step(wins)
        wins_s = time.process_time() - t0
    parts = {k.split('/', 1)[-1]: v.forward_ms for k, v in prof['parts'].items() if v.forward_ms > 0}
    out['model'] = dict(windows_per_s=timed / wall, windows_per_cpu_s=timed / cpu, profiled_ms=profiled_ms,
                        parts_ms=parts, whole_video_cpu_s=whole_s, windows_cpu_s=wins_s, windows_per_video=n_win)
    print(f'\n## Model, predict path: {timed / wall:.1f} windows/s ({timed / cpu:.1f} per CPU second), '
          f'batches of {bs}')
    rows = [(label.replace(' (incl. losses)', ''), f'{parts[key]:.0f}', f'{100 * parts[key] / profiled_ms:.0f}%')
            for key, label in _PARTS if key in parts]
    other = parts.get('model', 0.0) - sum(parts.get(k, 0.0) for k in ('input', 'encoder', 'decoder', 'pool',
                                                                         'actionness', 'text', 'proj'))
    rows.append(('· other (predict post-processing, masks, queries)', f'{other:.0f}',
                 f'{100 * other / profiled_ms:.0f}%'))
    print(f'one profiled batch: {profiled_ms:.0f} ms; nested rows are included in their parents')
    print(format_table(['part', 'forward ms', '% of batch'], rows))
    print(f'one video of {args.long_length} snippets: {whole_s:.2f} s CPU in one sequence vs {wins_s:.2f} s as its '
          f'{n_win} windows of {args.window} (overlap {args.overlap})')


def postprocess_section(model, videos: list, args, cfg, classes, out: dict) -> None:
    evaluator = cfg.get('test_evaluator', {})
    nms_cfg = dict(evaluator.get('nms', {}))
    kw = dict(pre_nms_topk=evaluator.get('pre_nms_topk', 2000), max_per_video=evaluator.get('max_per_video', 200))
    rng, step_s, topk = np.random.default_rng(0), 4 / 30, int(model.test_cfg['topk'])
    dets = {vid: _fake_window_detections(n_win, args.window * step_s, args.window * (1 - args.overlap) * step_s, topk,
                                         len(classes), rng) for vid, _, _, n_win in videos}
    durations = {vid: duration for vid, duration, _, _ in videos}
    t0 = time.process_time()
    batched = merge_video_detections(dets, nms_cfg, durations=durations, **kw)
    batched_s = time.process_time() - t0
    t0 = time.process_time()
    single = {v: merge_video_detections({v: d}, nms_cfg, durations=durations, **kw)[v] for v, d in dets.items()}
    single_s = time.process_time() - t0
    same = all(np.array_equal(batched[v][k], single[v][k]) for v in dets for k in batched[v])
    out['postprocess'] = dict(videos=len(dets), batched_cpu_s=batched_s, per_video_cpu_s=single_s, same=same)
    print(f'\n## Merge + Soft-NMS of {len(dets)} videos ({topk} detections per window, {nms_cfg or "defaults"})')
    print(format_table(['path', 'CPU s'], [('merge_video_detections, batched (TADMetric)', f'{batched_s:.2f}'),
                                           ('one call per video', f'{single_s:.2f}')]))
    print(f'same detections: {same}')


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = set_threads(args.threads)
    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(model_cfg_for_benchmark(cfg, 'tiny' if args.tiny_text else 'random', tmp)).model
    model.eval()
    videos = video_windows(args.ann_file, 'Test', size=args.window, overlap=args.overlap)
    if args.quick:
        videos = videos[:8]
    windows = [min(args.window, num) for _, _, num, n_win in videos for _ in range(n_win)]
    classes = split_classes(cfg, 'test', fallback=5)
    out: dict = dict(threads=threads, videos=len(videos), windows=len(windows), torch=torch.__version__)
    print(f'inference profile: {len(videos)} test videos, {len(windows)} windows of {args.window}, '
          f'{threads} torch threads, torch {torch.__version__}')
    model_section(model, windows, args, classes, out)
    postprocess_section(model, videos, args, cfg, classes, out)
    model_s = len(windows) / out['model']['windows_per_s']
    print(f'\nwhole set (extrapolated, no data loading): model {model_s:.1f} s + merge '
          f'{out["postprocess"]["batched_cpu_s"]:.1f} s')
    out['extrapolated_model_s'] = model_s
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == '__main__':
    main()
