#!/usr/bin/env python
"""Speed and memory of ZEETAD at its THUMOS14 configuration.

    python benchmarks/benchmark_model.py          # CPU or CUDA, batch 8, windows of 128 (40 s-3 min, 2 cores)
    python benchmarks/benchmark_model.py --device cpu --threads 2 --iters 5 --json out.json
    python benchmarks/benchmark_model.py --tiny-text --quick      # smoke-test sizes, seconds

Reports: parameter counts; the training step (forward + losses + Hungarian matching, backward, AdamW) time and
peak memory; where the step's time goes (torch.profiler ranges opened by module hooks, backward attributed to
parts through autograd sequence numbers); deformable attention against the naive loop on the same inputs; a
full 2304-snippet sequence against windows; inference throughput on THUMOS14-test-shaped input. Features are
random (speed does not depend on values) and the CLIP text tower is the configured architecture with random
weights (built with every network connection refused), or the tiny CLIP with ``--tiny-text``.
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

import torch  # noqa: E402

from benchmarks.common.model import (THUMOS14_CONFIG, build_model, build_optim_wrapper, load_config,  # noqa: E402
                                      model_cfg_for_benchmark, parameter_rows, split_classes,
                                      static_memory_mib, synthetic_windows, train_step_phases)
from benchmarks.common.compare import compare_section  # noqa: E402
from benchmarks.harness import (format_table, load_note, peak_memory, saved_tensors_mib,  # noqa: E402
                                    set_threads)
from benchmarks.common.model_report import (attention_section, inference_section, machine_line,  # noqa: E402
                                       profile_section)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--config', default=THUMOS14_CONFIG)
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=8, help='training windows per step')
    p.add_argument('--window', type=int, default=128, help='snippets per training window')
    p.add_argument('--iters', type=int, default=5, help='timed training steps (after --warmup)')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    p.add_argument('--tiny-text', action='store_true', help='tiny random CLIP text tower instead of the configured one')
    p.add_argument('--long-length', type=int, default=2304, help='full-sequence length to compare (0: skip)')
    p.add_argument('--long-batch', type=int, default=1)
    p.add_argument('--ann-file', default=str(ROOT / 'data/thumos14/annotations/thumos14.json'))
    p.add_argument('--test-batch-size', type=int, default=32)
    p.add_argument('--test-batches', type=int, default=3, help='timed inference batches (extrapolated to the set)')
    p.add_argument('--nms-videos', type=int, default=10, help='videos whose post-processing is timed')
    p.add_argument('--naive-batch', type=int, default=1, help='samples the naive attention loop is timed on')
    p.add_argument('--json', help='also write the results here')
    p.add_argument('--quick', action='store_true', help='tiny sizes for smoke tests (implies --tiny-text)')
    p.add_argument('--tadtr', metavar='PATH', help="a checkout of TadTR's repository (outside this one): adds its "
                   'own model to the comparison and prints ratios against it')
    p.add_argument('--compare-batches', type=int, nargs='*', default=[8, 16],
                   help='batch sizes of the comparison with TadTR (none: skip the comparison)')
    p.add_argument('--retain-heap', action='store_true',
                   help="keep freed memory in the heap as 'zeetad test' does (zeetad/utils/heap.py); it applies to "
                        'the whole process, so TadTR runs with it too')
    p.add_argument('--compare-reps', type=int, default=7, help='alternating repetitions of the comparison')
    p.add_argument('--compare-warmup', type=int, default=1)
    p.add_argument('--compare-only', action='store_true', help='run only the comparison')
    p.add_argument('--inference-only', action='store_true', help='run only the THUMOS14 test-set inference section')
    p.add_argument('--compare-autocast', choices=['bfloat16', 'float16'],
                   help='also time the shipped model\'s inference under this autocast dtype (model.test_cfg.autocast)')
    p.add_argument('--autocast', choices=['bfloat16', 'float16'],
                   help='model.test_cfg.autocast for the inference section (default: the config\'s)')
    args = p.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: no CUDA device is available')
    if args.quick:
        args.tiny_text = True
        args.batch_size, args.window, args.iters, args.warmup = min(args.batch_size, 2), min(args.window, 32), 1, 1
        args.long_length, args.test_batch_size, args.test_batches = min(args.long_length, 64), 4, 1
        args.nms_videos = min(args.nms_videos, 2)
        args.compare_batches, args.compare_reps, args.compare_warmup = [2], 1, 0
    return args


def _precision(cfg, args) -> str:
    """What the figures run in: training float32, inference as ``test_cfg.autocast`` resolves on this machine."""
    from zeetad.models.zeetad import resolve_autocast
    autocast = args.autocast or (cfg.model.get('test_cfg') or {}).get('autocast')
    return f"training float32, inference {resolve_autocast(autocast, args.device) or 'float32'} " \
           f"(test_cfg.autocast={autocast!r}; rows marked float32 run float32)"


def train_section(model, cfg, args, classes, out):
    loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
    batch = synthetic_windows(args.batch_size, args.window, loc_dim, clip_dim, classes)
    optim = build_optim_wrapper(model, cfg)
    model.train()
    for _ in range(args.warmup):
        train_step_phases(model, optim, batch, args.device)
    steps, cpu = [], []
    for _ in range(args.iters):
        c0 = time.process_time()
        steps.append(train_step_phases(model, optim, batch, args.device))
        cpu.append(time.process_time() - c0)
    with peak_memory(args.device) as mem, saved_tensors_mib(list(model.parameters())) as saved:
        train_step_phases(model, optim, batch, args.device)
    static = static_memory_mib(model)
    med = {k: sorted(s[k] for s in steps)[len(steps) // 2] for k in ('preprocess', 'forward', 'backward', 'optimizer',
                                                                     'total')}
    rows = [(k, f'{med[k] * 1e3:.0f}', f'{min(s[k] for s in steps) * 1e3:.0f}', f'{100 * med[k] / med["total"]:.0f}%')
            for k in ('preprocess', 'forward', 'backward', 'optimizer', 'total')]
    rows[1] = ('forward (incl. losses + matching)',) + rows[1][1:]
    rows[3] = ('optimizer (clip + AdamW + zero_grad)',) + rows[3][1:]
    print(f'\n## Training step: batch {args.batch_size}, windows of {args.window} '
          f'(median of {args.iters} after {args.warmup} warm-up)')
    print(format_table(['phase', 'median ms', 'min ms', 'share'], rows))
    rate = args.batch_size / med['total']
    cpu_med = sorted(cpu)[len(cpu) // 2]
    print(f'train step rate: {rate:.2f} samples/s ({1 / med["total"]:.2f} steps/s); process CPU time '
          f'{cpu_med:.2f} s per step ({cpu_med / med["total"]:.1f} cores busy on average)')
    print(f'memory: parameters {static["parameters"]:.0f} MiB + gradients {static["gradients"]:.0f} MiB + AdamW '
          f'state {static["optimizer"]:.0f} MiB = {static["total"]:.0f} MiB static; activations saved for backward '
          f'{saved["mib"]:.0f} MiB; peak of one step +{mem.delta_mib:.0f} MiB over {mem.base_mib:.0f} MiB '
          f'({mem.method})')
    out['train'] = dict(batch=args.batch_size, window=args.window, median_s=med, samples_per_s=rate,
                        cpu_s_per_step=cpu_med, peak_mib=mem.peak_mib, base_mib=mem.base_mib,
                        peak_delta_mib=mem.delta_mib, memory_method=mem.method, saved_activations_mib=saved['mib'],
                        static_mib=static)
    out['step_rate_samples_per_s'] = rate
    return optim, batch


def long_section(model, optim, args, classes, out):
    if not args.long_length:
        return
    loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
    batch = synthetic_windows(args.long_batch, args.long_length, loc_dim, clip_dim, classes, seed=1)
    model.train()
    train_step_phases(model, optim, batch, args.device)  # warm-up: new shapes
    with peak_memory(args.device) as mem, saved_tensors_mib(list(model.parameters())) as saved:
        step = train_step_phases(model, optim, batch, args.device)
    win = out['train']
    per_window = win['median_s']['total'] / win['batch']
    n_windows = args.long_length / win['window']
    long_per_sample = step['total'] / args.long_batch
    rows = [(f'{win["batch"]} windows of {win["window"]}', win['batch'], f'{win["median_s"]["total"] * 1e3:.0f}',
             f'{per_window * 1e3:.0f}', f'{per_window * n_windows * 1e3:.0f}',
             f'{win["saved_activations_mib"]:.0f}', f'+{win["peak_delta_mib"]:.0f}'),
            (f'full sequence of {args.long_length}', args.long_batch, f'{step["total"] * 1e3:.0f}',
             f'{long_per_sample * 1e3:.0f}', f'{long_per_sample * 1e3:.0f}', f'{saved["mib"]:.0f}',
             f'+{mem.delta_mib:.0f}')]
    print(f'\n## Full-sequence equivalent: {args.long_length} snippets = {n_windows:g} non-overlapping windows of '
          f'{win["window"]} (one step each; training windows overlap 0.75, i.e. 4x more windows per video)')
    print(format_table(['input', 'batch', 'step ms', 'ms / sample', f'ms / {args.long_length} snippets',
                        'saved activations MiB', 'step peak MiB'], rows))
    print(f'batch {win["batch"]} at {args.long_length}: about {long_per_sample * win["batch"]:.1f} s per step '
          f'(extrapolated linearly from batch {args.long_batch})')
    out['long'] = dict(length=args.long_length, batch=args.long_batch, step_s=step['total'],
                       per_sample_s=long_per_sample, windowed_equivalent_s=per_window * n_windows,
                       peak_delta_mib=mem.delta_mib, saved_activations_mib=saved['mib'])


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = set_threads(args.threads)
    from zeetad.utils.heap import retain_freed_heap
    heap = retain_freed_heap() if args.retain_heap else False  # process-wide: every row, TadTR's too
    cfg = load_config(args.config)
    out: dict = dict(config=str(args.config), device=args.device, threads=threads, torch=torch.__version__,
                     retained_heap=heap)
    with tempfile.TemporaryDirectory() as tmp:
        model_cfg = model_cfg_for_benchmark(cfg, 'tiny' if args.tiny_text else 'random', tmp)
        if args.compare_only:
            print(f'zeetad against TadTR: {Path(args.config).name}, device {args.device}, {threads} torch threads, '
                  f'torch {torch.__version__}')
            print(machine_line(args.device, _precision(cfg, args)))
            if load_note():
                print(load_note())
            compare_section(cfg, model_cfg, args, split_classes(cfg, 'train'), out, args.tadtr)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1, default=str))
            return out
        built = build_model(model_cfg, args.device)
    model, enc = built.model, built.model.classifier.text_encoder
    text_desc = f'{enc.model_name} ({"tiny random" if args.tiny_text else "configured architecture, random init"})'
    print(f'zeetad model benchmark: {Path(args.config).name}, device {args.device}, {threads} torch threads, '
          f'torch {torch.__version__}')
    print(machine_line(args.device, _precision(cfg, args)))
    if load_note():
        print(load_note())
    print(f'text tower: {text_desc}; built in {built.build_s:.1f} s with the network blocked '
          f'({len(built.network_attempts)} connection attempts)')
    out.update(text_tower=text_desc, build_s=built.build_s, network_attempts=built.network_attempts)

    if args.inference_only:
        if args.autocast:
            model.test_cfg['autocast'] = args.autocast
        inference_section(model, cfg, args, out)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        return out

    rows = parameter_rows(model)
    print('\n## Parameters')
    print(format_table(['part', 'total', 'trainable'], [(n, f'{t:,}', f'{tr:,}') for n, t, tr in rows]))
    out['parameters'] = {n: dict(total=t, trainable=tr) for n, t, tr in rows}

    classes = split_classes(cfg, "train")
    optim, batch = train_section(model, cfg, args, classes, out)
    profile_section(model, optim, batch, args, out)
    attention_section(model, args, out)
    long_section(model, optim, args, classes, out)
    if args.autocast:
        model.test_cfg['autocast'] = args.autocast
    inference_section(model, cfg, args, out)
    if args.compare_batches:
        with tempfile.TemporaryDirectory() as tmp:  # the tiny text tower's checkpoint lives here
            compare_section(cfg, model_cfg_for_benchmark(cfg, 'tiny' if args.tiny_text else 'random', tmp), args,
                            classes, out, args.tadtr)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return out


if __name__ == '__main__':
    main()
