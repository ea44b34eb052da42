"""Benchmark zeetad's Soft-NMS against the loop reference and, optionally,
ActionFormer's compiled C++ Soft-NMS, all in the same run.

    python benchmarks/benchmark_nms.py [--videos 64] [--repeat 7] [--actionformer DIR]

Settings: THUMOS14 (2,000 candidates, 20 classes, gaussian sigma 0.5, top 200,
multi-class) and ActivityNet (1,000 candidates, class-agnostic, gaussian sigma
0.75, top 100), plus score voting, hard NMS and long-proposal variants. zeetad is timed per
video (``batched_soft_nms``, one call per video, as ``detect`` and the
evaluation of one video run it: the numpy loop) and batched
(``soft_nms_per_video``, all videos in one call, as ``TADMetric`` runs it: the
torch lock-step loop); both must equal the loop reference
(``reference.loop_soft_nms``, timed on a few videos) to 1e-6. With
``--actionformer`` both are printed as ratios to the C++ kernel (per video is
the comparison that matters: ActionFormer also runs one video per call).

``--actionformer DIR``: a directory holding ActionFormer's ``nms.py`` and its
built ``nms_1d_cpu`` extension (``libs/utils`` of actionformer_release after
``python setup.py build_ext --inplace``, outside this repository). Its
``batched_nms`` runs on float32 copies of the same candidates (the C++ code is
float only) with the same ``voting_thresh`` (none for the multi-class voting
setting: ActionFormer votes only class-agnostic, so that row has no ratio). Its
semantics differ slightly (areas get +1e-6, hard/linear decay at ``iou >=
threshold``), so only times are compared.

Timings: CPU time (``time.process_time``) of one thread, median of
``--repeat`` rounds in which the implementations alternate.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_var, '1')  # one core, set before numpy/torch load
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from zeetad.testing.reference import loop_soft_nms  # noqa: E402
from zeetad.evaluation.soft_nms import batched_soft_nms, soft_nms_per_video  # noqa: E402
from benchmarks.harness import machine_line  # noqa: E402

SETTINGS = {
    'THUMOS14 (2000 cand., 20 cls, gaussian 0.5, top 200)':
        (2000, 20, dict(method='gaussian', sigma=0.5, min_score=0.001, max_seg_num=200, multiclass=True)),
    'THUMOS14 + score voting 0.7':
        (2000, 20, dict(method='gaussian', sigma=0.5, min_score=0.001, max_seg_num=200, multiclass=True,
                        voting_thresh=0.7)),
    'ANet (1000 cand., agnostic, gaussian 0.75, top 100)':
        (1000, 1, dict(method='gaussian', sigma=0.75, min_score=0.001, max_seg_num=100, multiclass=False)),
    'ANet (1000 cand., agnostic, hard 0.5, top 100)':
        (1000, 1, dict(method='hard', iou_threshold=0.5, min_score=0.001, max_seg_num=100, multiclass=False)),
    'ANet, long proposals (up to 90 % of the video)':
        (1000, 1, dict(method='gaussian', sigma=0.75, min_score=0.001, max_seg_num=100, multiclass=False)),
}
LONG = 'ANet, long proposals (up to 90 % of the video)'


def synthetic_candidates(n: int, n_classes: int, duration: float, seed: int, long: bool = False) -> tuple:
    """Dense overlapping candidates like a detector's raw output: clustered
    around a few action instances, most of them of the video's one or two
    action classes (as in THUMOS14), the rest spread over all classes.
    ``long``: widths up to 90 % of the video instead of 1-20 s (ActivityNet
    proposals; every candidate then overlaps many others)."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, duration, 12)
    c = centers[rng.integers(12, size=n)] + rng.normal(0, 3, n)
    w = duration * rng.uniform(0.02, 0.9, n) ** 2 if long else rng.uniform(1, 20, n)
    segs = np.stack([np.clip(c - w / 2, 0, duration), np.clip(c + w / 2, 0, duration)], 1)
    main = rng.choice(n_classes, size=2, replace=n_classes < 2)
    labels = np.where(rng.uniform(size=n) < 0.8, main[(rng.uniform(size=n) < 0.25).astype(int)],
                      rng.integers(n_classes, size=n))
    return (torch.from_numpy(segs), torch.from_numpy(rng.uniform(0, 1, n)), torch.from_numpy(labels))


def load_actionformer(directory: str):
    """ActionFormer's ``nms.py`` module (imports its ``nms_1d_cpu`` extension)."""
    path = os.path.join(directory, 'nms.py')
    if not os.path.isfile(path):
        raise SystemExit(f'--actionformer: no nms.py in {directory}')
    sys.path.insert(0, os.path.abspath(directory))
    spec = importlib.util.spec_from_file_location('actionformer_nms', path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as err:
        raise SystemExit(f'--actionformer: cannot import ActionFormer NMS from {directory} ({err}); '
                         'build it there with `python setup.py build_ext --inplace`') from err
    return module


def timed_rounds(fns: dict, repeat: int) -> dict:
    """Median CPU time of each function over ``repeat`` alternating rounds."""
    times: dict = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.process_time()
            fn()
            times[name].append(time.process_time() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def max_diff_to_loop(per_video: list, data: list, kw: dict) -> float:
    """Largest score / segment difference of zeetad's per-video outputs from
    the loop reference (inf when the kept labels differ)."""
    worst = 0.0
    for (s, c, l), d in zip(per_video, data):
        rs, rc, rl, _ = loop_soft_nms(*[x.numpy() for x in d], **kw)
        if len(rl) != len(l) or not np.array_equal(rl, l.numpy()):
            return float('inf')
        worst = max(worst, float(np.abs(rc - c.numpy()).max(initial=0)), float(np.abs(rs - s.numpy()).max(initial=0)))
    return worst


def bench_setting(name: str, n: int, n_classes: int, kw: dict, args, af=None) -> dict:
    data = [synthetic_candidates(n, n_classes, 200.0, 1 + i, long=name == LONG) for i in range(args.videos)]
    cat = [torch.cat([d[i] for d in data]) for i in range(3)]
    video = torch.repeat_interleave(torch.arange(len(data)), n)
    fns = {'per_video': lambda: [batched_soft_nms(*d, **kw) for d in data],
           'batched': lambda: soft_nms_per_video(*cat, video, **kw)}
    voting = kw.get('voting_thresh', 0.0)
    if af is not None and not (voting > 0 and kw['multiclass']):  # ActionFormer votes only class-agnostic
        d32 = [(s.float(), c.float(), l) for s, c, l in data]
        af_kw = dict(use_soft_nms=kw['method'] != 'hard', multiclass=kw['multiclass'], sigma=kw.get('sigma', 0.5),
                     voting_thresh=voting)
        fns['actionformer'] = lambda: [af.batched_nms(s, c, l, kw.get('iou_threshold', 0.1), kw['min_score'],
                                                      kw['max_seg_num'], **af_kw) for s, c, l in d32]
    times = {k: v / len(data) * 1e3 for k, v in timed_rounds(fns, args.repeat).items()}
    n_ref = min(args.ref_videos, len(data))
    t0 = time.process_time()
    for d in data[:n_ref]:
        loop_soft_nms(*[x.numpy() for x in d], **kw)
    times['loop'] = (time.process_time() - t0) / n_ref * 1e3
    per_video = [batched_soft_nms(*d, **kw) for d in data[:n_ref]]
    s, c, l, v = soft_nms_per_video(*cat, video, **kw)
    batched = [(s[v == i], c[v == i], l[v == i]) for i in range(n_ref)]
    times['diff_per_video'] = max_diff_to_loop(per_video, data[:n_ref], kw)
    times['diff_batched'] = max_diff_to_loop(batched, data[:n_ref], kw)
    times['name'] = name
    return times


def main(argv=None) -> list:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--videos', type=int, default=64, help='videos per setting (all in one batched call)')
    p.add_argument('--ref-videos', type=int, default=3, help='videos the loop reference runs on')
    p.add_argument('--repeat', type=int, default=7, help='alternating rounds; the median is reported')
    p.add_argument('--actionformer', default=None, help="directory with ActionFormer's nms.py + nms_1d_cpu")
    p.add_argument('--settings', nargs='+', type=int, default=None, help='indices into the settings (default all)')
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    af = load_actionformer(args.actionformer) if args.actionformer else None
    chosen = list(SETTINGS.items())
    if args.settings is not None:
        chosen = [chosen[i] for i in args.settings]
    rows = [bench_setting(name, n, c, kw, args, af) for name, (n, c, kw) in chosen]

    w = max(len(r['name']) for r in rows)
    print(f'Soft-NMS benchmark: CPU ms per video (process_time, median of {args.repeat} alternating rounds, '
          f'{args.videos} videos), 1 thread, torch {torch.__version__}')
    print(machine_line(precision='float64 candidates' + (" (ActionFormer's C++: float32 copies)" if af else '')))
    head = f'{"setting":<{w}} | {"batched":>8} | {"per-video":>9} | {"loop":>8}'
    if af is not None:
        head += f' | {"AF C++":>8} | {"per-video/AF":>12} | {"batched/AF":>10}'
    print(head + ' | max |diff| to loop (batched, per-video)')
    print('-' * (len(head) + 40))
    for r in rows:
        line = f'{r["name"]:<{w}} | {r["batched"]:>8.2f} | {r["per_video"]:>9.2f} | {r["loop"]:>8.1f}'
        if af is not None and 'actionformer' in r:
            line += (f' | {r["actionformer"]:>8.2f} | {r["per_video"] / r["actionformer"]:>12.2f}'
                     f' | {r["batched"] / r["actionformer"]:>10.2f}')
        elif af is not None:
            line += f' | {"-":>8} | {"-":>12} | {"-":>10}'
        print(line + f' | {r["diff_batched"]:.1e}, {r["diff_per_video"]:.1e}')
    return rows


if __name__ == '__main__':
    main()
