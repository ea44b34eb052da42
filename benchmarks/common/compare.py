"""ZEETAD against TadTR's own model: training step and inference, measured alternating in one process.

Rows: the shipped configuration, ZEETAD configured like TadTR (no CLIP stream, no actionness head, no text
adapters so the class embeddings are cached), and TadTR itself when a checkout is given (see
:mod:`benchmarks.common.tadtr`) in two forms: as it runs on a CPU (its ``--disable_cuda`` turns its
actionness regression off) and with that head on through a RoIAlign stand-in (what it runs on a GPU). Every
repetition runs each model once in turn, so machine load drifts hit all rows alike; ratios are medians over the
repetitions of the per-repetition ratio to each TadTR row, for wall time and for process CPU time (the steadier
of the two on a shared machine).
"""
from __future__ import annotations

import copy
import time
from typing import Callable, Optional, Sequence

import torch

from .model import build_model, build_optim_wrapper, synthetic_windows
from ..harness import format_table, sync

__all__ = ['tadtr_like_model_cfg', 'compare_section', 'TADTR_ROWS']

# TadTR's rows and the options they are built with (the first is the reference the targets are set against).
TADTR_ROWS = {
    'TadTR (its own code) as on CPU: --disable_cuda, no actionness': dict(disable_cuda=True, act_reg=False),
    'TadTR (its own code) + actionness via a RoIAlign stand-in': dict(disable_cuda=False, act_reg=True),
}


def tadtr_like_model_cfg(model_cfg: dict, proj_kernel: Optional[int] = None) -> dict:
    """``model_cfg`` reduced to what TadTR computes: no CLIP stream, no actionness head, frozen text tower
    without adapters (class embeddings computed once and cached). Width, depth and queries unchanged;
    ``proj_kernel=1`` also takes TadTR's pointwise input projection (None: the config's)."""
    cfg = copy.deepcopy(model_cfg)
    cfg['localizer'].update(clip_dim=None, fuse_clip=False, actionness=None)
    if proj_kernel is not None:
        cfg['localizer']['proj_kernel'] = proj_kernel
    cfg['classifier']['text_encoder']['num_adapter_blocks'] = 0
    crit = cfg['criterion']
    crit['loss_weights'] = {k: v for k, v in crit.get('loss_weights', {}).items() if k != 'loss_actionness'}
    return cfg


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])


def _timed(fn: Callable[[], object], device: str) -> tuple[float, float]:
    """``(wall, process CPU)`` seconds of one call. On a CPU shared with other jobs the CPU time counts only
    the work this process did, not the time it waited for a core, so its ratios are the steadier ones."""
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - t0, time.process_time() - c0


def _zeetad_calls(model, cfg, batch_size: int, window: int, classes, device: str, seed: int):
    loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
    batch = synthetic_windows(batch_size, window, loc_dim, clip_dim, classes, seed=seed)
    data = model.data_preprocessor(batch, True)  # collated once: TadTR's rows get stacked tensors too
    optim = build_optim_wrapper(model, cfg)
    names = list(batch['data_samples'][0]['classes'])

    def mode(training: bool):
        def prepare():  # untimed: train()/eval() clear the text cache, which a real run fills only once
            model.train(training)
            with torch.no_grad():
                model.classifier.text_embeddings(names)
        return prepare

    def train():
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        optim.update_params(loss)  # backward, gradient clipping, AdamW step, zero_grad

    def infer(autocast: Optional[str] = None):  # None: the config's; 'none': float32
        saved = model.test_cfg['autocast']
        model.test_cfg['autocast'] = saved if autocast is None else (None if autocast == 'none' else autocast)
        try:
            with torch.no_grad():
                model(**data, mode='predict')
        finally:
            model.test_cfg['autocast'] = saved
    return (mode(True), train), (mode(False), infer)


def _tadtr_calls(bench, batch_size: int, window: int, loc_dim: int, classes, device: str, seed: int):
    from .tadtr import tadtr_targets
    batch = synthetic_windows(batch_size, window, loc_dim, None, classes, seed=seed)
    feats = torch.stack([x['loc'] for x in batch['inputs']]).transpose(1, 2).contiguous().to(device)
    mask = torch.zeros(batch_size, window, dtype=torch.bool, device=device)
    targets = tadtr_targets(batch['data_samples'], device)
    return (None, lambda: bench.train_step(feats, mask, targets)), (None, lambda: bench.predict(feats, mask))


def compare_section(cfg, model_cfg: dict, args, classes, out: dict, tadtr_path: Optional[str] = None) -> None:
    """Print and store train-step and inference times (ms, medians of ``args.compare_reps`` alternating
    repetitions) of each row at each of ``args.compare_batches``, and ratios to TadTR when it is given."""
    rows = {'zeetad (shipped config)': build_model(model_cfg, args.device).model,
            'zeetad, TadTR-like config': build_model(tadtr_like_model_cfg(model_cfg), args.device).model,
            'zeetad, TadTR-like, kernel-1 projection as TadTR': build_model(tadtr_like_model_cfg(model_cfg, 1),
                                                                            args.device).model}
    benches = {}
    if tadtr_path:
        from .tadtr import load_tadtr
        benches = {name: load_tadtr(tadtr_path, overrides, device=args.device)
                   for name, overrides in TADTR_ROWS.items()}
    loc_dim = model_cfg['localizer']['loc_dim']
    results = {}
    for bs in args.compare_batches:
        calls = {name: _zeetad_calls(m, cfg, bs, args.window, classes, args.device, seed=bs)
                 for name, m in rows.items()}
        shipped = calls['zeetad (shipped config)']
        from zeetad.models.inference_utils import resolve_autocast
        if resolve_autocast(rows['zeetad (shipped config)'].test_cfg['autocast'], args.device) is not None:
            calls['zeetad (shipped config), float32 inference'] = (None, (shipped[1][0], lambda: shipped[1][1]('none')))
        if getattr(args, 'compare_autocast', None):  # the shipped model again, inference under autocast
            calls[f'zeetad (shipped config), {args.compare_autocast} inference'] = (
                None, (shipped[1][0], lambda: shipped[1][1](args.compare_autocast)))
        for name, bench in benches.items():
            calls[name] = _tadtr_calls(bench, bs, args.window, loc_dim, classes, args.device, seed=bs)
        for phase, which in (('train step', 0), ('inference', 1)):
            phase_calls = {name: fns[which] for name, fns in calls.items() if fns[which] is not None}
            times = {name: [] for name in phase_calls}
            for rep in range(args.compare_warmup + args.compare_reps):
                for name, (prepare, fn) in phase_calls.items():
                    if prepare is not None:
                        prepare()
                    t = _timed(fn, args.device)
                    if rep >= args.compare_warmup:
                        times[name].append(t)
            results[(phase, bs)] = times
    _print(results, list(benches), args, out)
    from zeetad.models.inference_utils import resolve_autocast
    autocast = rows['zeetad (shipped config)'].test_cfg['autocast']
    print(f"inference rows without a precision run the config's test_cfg.autocast={autocast!r}: "
          f"{resolve_autocast(autocast, args.device) or 'float32'} here")


def _print(results: dict, references: list, args, out: dict) -> None:
    header = ['phase', 'batch', 'row', 'wall ms (median / min)', 'CPU ms (median / min)']
    for i, _ in enumerate(references):
        header += [f'wall x TadTR {i + 1}', f'CPU x TadTR {i + 1} (range)']
    table, store = [], []
    for (phase, bs), times in results.items():
        for name, ts in times.items():
            wall, cpu = [t[0] for t in ts], [t[1] for t in ts]
            row = [phase, bs, name, f'{_median(wall) * 1e3:.0f} / {min(wall) * 1e3:.0f}',
                   f'{_median(cpu) * 1e3:.0f} / {min(cpu) * 1e3:.0f}']
            rec = dict(phase=phase, batch=bs, row=name, wall_ms=[t * 1e3 for t in wall],
                       cpu_ms=[t * 1e3 for t in cpu], median_wall_ms=_median(wall) * 1e3,
                       median_cpu_ms=_median(cpu) * 1e3)
            for i, tadtr in enumerate(references):
                ref = times[tadtr]
                rw = [a[0] / b[0] for a, b in zip(ts, ref)]
                rc = [a[1] / b[1] for a, b in zip(ts, ref)]
                row += [f'{_median(rw):.2f}', f'{_median(rc):.2f} ({min(rc):.2f}-{max(rc):.2f})']
                key = '' if i == 0 else '_act_standin'  # TadTR 1: as it runs on a CPU
                rec.update({f'wall_ratio_to_tadtr{key}': _median(rw), f'cpu_ratio_to_tadtr{key}': _median(rc)})
            table.append(row)
            store.append(rec)
    print(f'\n## Against TadTR: windows of {args.window}, {args.compare_reps} alternating repetitions after '
          f'{args.compare_warmup} warm-up (inputs collated beforehand; ratios are medians of per-repetition '
          f'ratios, < 1: faster than TadTR)')
    print(format_table(header, table))
    for i, name in enumerate(references):
        print(f'TadTR {i + 1}: {name}')
    out['compare'] = store
