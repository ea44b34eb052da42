"""Sections of ``benchmarks/benchmark_model.py`` that need the built ZEETAD model: the per-part breakdown,
deformable attention against the naive loop, and inference throughput on THUMOS14-test-shaped input.

Each section prints a Markdown table and stores its numbers in the ``out`` dict.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from .attention import AttentionCase, compare_attention
from .model import split_classes, synthetic_windows, train_step_phases, video_windows
from ..harness import format_table, machine_line, sync
from .profile_ranges import RangeHooks, profile_parts

__all__ = ['machine_line', 'zeetad_range_hooks', 'profile_section', 'attention_section', 'inference_section']


# Row order of the breakdown; the number of leading dots is the nesting depth.
_PARTS = [
    ('model', 'model forward (incl. losses)'),
    ('input', '· input projections (conv + GN)'),
    ('encoder', '· deformable encoder'),
    ('attn_enc', '· · deformable attention (encoder)'),
    ('decoder', '· deformable decoder + segment heads'),
    ('attn_dec', '· · deformable attention (decoder)'),
    ('core', '· · · sampling core (encoder + decoder)'),
    ('pool', '· segment pooling of CLIP features'),
    ('actionness', '· actionness head'),
    ('text', '· classifier: text tower + adapters'),
    ('proj', '· classifier: projection + logits'),
    ('criterion', '· criterion (losses)'),
    ('matcher', '· · Hungarian matcher (no backward)'),
]
_TOP_LEVEL = ('input', 'encoder', 'decoder', 'pool', 'actionness', 'text', 'proj', 'criterion')
_PREFIX = 'zeetad_bench/'  # profiler range names: distinct from every op name


class _Prefixed(RangeHooks):
    def module(self, name, module):
        return super().module(_PREFIX + name, module)

    def method(self, name, obj, attr):
        return super().method(_PREFIX + name, obj, attr)


def zeetad_range_hooks(model) -> RangeHooks:
    """Named ranges around the parts of a ZEETAD model (see ``_PARTS``)."""
    import zeetad.models.layers.ms_deform_attn as attn_module
    import zeetad.models.localizers.dual_localizer as localizer_module
    from zeetad.models.layers import MultiScaleDeformableAttention1D
    loc, tr = model.localizer, model.localizer.transformer
    hooks = _Prefixed().module('model', model)
    for part in (loc.loc_proj, loc.clip_proj, loc.downsample):
        if part is not None:
            hooks.module('input', part)
    hooks.module('encoder', tr.encoder).module('decoder', tr.decoder).module('decoder', tr.segment_heads)
    for name, stack in (('attn_enc', tr.encoder), ('attn_dec', tr.decoder)):
        for m in stack.modules():
            if isinstance(m, MultiScaleDeformableAttention1D):
                hooks.module(name, m)
    hooks.method('core', attn_module, 'ms_deform_attn_1d')
    hooks.method('pool', localizer_module, 'pool_in_segments')
    if loc.actionness is not None:
        hooks.module('actionness', loc.actionness)
    hooks.method('text', model.classifier.text_encoder, 'encode')
    hooks.module('proj', model.classifier)
    hooks.module('criterion', model.criterion).module('matcher', model.criterion.matcher)
    return hooks


def profile_section(model, optim, batch, args, out, steps: int = 1) -> None:
    """Profile ``steps`` training steps and print forward/backward milliseconds per part."""
    hooks = zeetad_range_hooks(model)
    model.train()
    try:
        with profile_parts(hooks, args.device) as prof:
            t0 = time.perf_counter()
            phases = [train_step_phases(model, optim, batch, args.device) for _ in range(steps)]
            sync(args.device)
            wall_ms = (time.perf_counter() - t0) * 1e3 / steps
    finally:
        hooks.remove()
    parts = {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in prof['parts'].items()}
    step_ms = {k: sum(p[k] for p in phases) * 1e3 / steps for k in ('preprocess', 'optimizer')}
    rows, record = [], {}
    for key, label in _PARTS:
        p = parts[key]
        fwd, bwd = p.forward_ms / steps, p.backward_ms / steps
        bwd_cell = '-' if key == 'matcher' else f'{bwd:.0f}'
        rows.append((label, f'{fwd:.0f}', bwd_cell, f'{fwd + bwd:.0f}', f'{100 * (fwd + bwd) / wall_ms:.0f}%'))
        record[key] = dict(forward_ms=fwd, backward_ms=bwd, calls=p.calls // steps)
    other_f = (parts['model'].forward_ms - sum(parts[k].forward_ms for k in _TOP_LEVEL)) / steps
    other_b = (parts['model'].backward_ms - sum(parts[k].backward_ms for k in _TOP_LEVEL)) / steps
    rows.append(('· other (model forward minus the parts above)', f'{other_f:.0f}', f'{other_b:.0f}',
                 f'{other_f + other_b:.0f}', f'{100 * (other_f + other_b) / wall_ms:.0f}%'))
    unattributed = parts['<backward, unattributed>'].backward_ms / steps
    for label, ms in (('backward outside every part (gradient accumulation)', unattributed),
                      ('data preprocessor (pad, stack, normalise)', step_ms['preprocess']),
                      ('optimizer (clip + AdamW + zero_grad)', step_ms['optimizer'])):
        rows.append((label, '', '', f'{ms:.0f}', f'{100 * ms / wall_ms:.0f}%'))
    rows.append(('profiled step (wall)', '', '', f'{wall_ms:.0f}', '100%'))
    overhead = wall_ms / (out['train']['median_s']['total'] * 1e3) - 1
    print(f'\n## Where the step time goes: torch.profiler, {steps} profiled step(s), ms per step')
    print('Ranges are opened by module forward hooks (and by wrapping the text encoder, the sampling function and '
          'the CLIP pooling function); a backward autograd node is charged to the ranges that created it '
          '(matched by autograd sequence number). Nested rows are included in their parents.')
    print(format_table(['part', 'forward ms', 'backward ms', 'total ms', '% of step'], rows))
    print(f'profiler overhead: the profiled step took {100 * overhead:+.0f}% vs the unprofiled median')
    out['breakdown'] = dict(parts=record, other_forward_ms=other_f, other_backward_ms=other_b,
                            backward_unattributed_ms=unattributed, profiled_step_ms=wall_ms, **{
                                f'{k}_ms': v for k, v in step_ms.items()})


def attention_section(model, args, out) -> None:
    """The model's deformable attention shapes: pure-PyTorch variants vs the naive loop."""
    tr = model.localizer.transformer
    attn = tr.encoder[0].self_attn if len(tr.encoder) else tr.decoder[0].cross_attn
    levels = tuple(max(1, args.window // 2**i) for i in range(tr.num_levels))
    head_dim = tr.d_model // attn.num_heads
    cases = []
    if len(tr.encoder):
        cases.append(AttentionCase('encoder self-attention', args.batch_size, sum(levels), levels, attn.num_heads,
                                   head_dim, attn.num_points))
    cases.append(AttentionCase('decoder cross-attention', args.batch_size, tr.num_queries, levels, attn.num_heads,
                               head_dim, attn.num_points))
    rows, record = [], {}
    for case in cases:
        result = compare_attention(case, repeat=max(3, args.iters), naive_batch=args.naive_batch, device=args.device)
        record[case.name] = result
        shape = f'{case.name} (B={case.batch}, Lq={case.queries}, S={sum(levels)}, H={case.heads}, P={case.points})'
        for r in result:
            rows.append((shape, r['method'], f'{r["forward_ms"]:.2f}',
                         '-' if np.isnan(r['fwd_bwd_ms']) else f'{r["fwd_bwd_ms"]:.2f}',
                         f'{r["speedup_vs_naive"]:.0f}x', f'{r["max_abs_diff"]:.1e}', r['note']))
    print('\n## Deformable attention: pure PyTorch vs the naive loop (same inputs, same run; best of '
          f'{max(3, args.iters)} calls, naive: one call)')
    print(format_table(['call', 'method', 'forward ms', 'fwd+bwd ms', 'speed-up (fwd)', 'max |diff|', 'note'], rows,
                       align='llrrrrl'))
    out['attention'] = record


def _fake_window_detections(n_windows: int, window_s: float, stride_s: float, topk: int, num_classes: int,
                            rng) -> list:
    dets = []
    for w in range(n_windows):
        start = w * stride_s + rng.uniform(0, window_s, topk)
        dets.append(dict(segments=np.stack([start, start + rng.uniform(0.5, 0.3 * window_s, topk)], 1),
                         scores=rng.uniform(0, 1, topk), labels=rng.integers(0, num_classes, topk)))
    return dets


def inference_section(model, cfg, args, out) -> None:
    """Windows/s of the predict path and Soft-NMS ms/video, extrapolated to the THUMOS14 test set."""
    from zeetad.evaluation.postprocess import merge_window_detections
    if not os.path.isfile(args.ann_file):
        print(f'\n(inference section skipped: {args.ann_file} not found)')
        return
    test_ds = cfg.test_dataloader.dataset
    overlap = float(test_ds.get('window_overlap', 0.25))
    videos = video_windows(args.ann_file, 'Test', size=args.window, overlap=overlap)
    total_windows = sum(v[3] for v in videos)
    lengths = [min(args.window, v[2]) for v in videos for _ in range(v[3])]
    classes = split_classes(cfg, 'test', fallback=5)
    loc_dim, clip_dim = model.localizer.loc_proj[0].in_channels, model.localizer.clip_dim
    bs = args.test_batch_size
    batches = [synthetic_windows(0, 0, loc_dim, clip_dim, classes, seed=10 + i, lengths=lengths[i * bs:(i + 1) * bs])
               for i in range(args.test_batches + 1)]
    model.eval()
    with torch.no_grad():
        model.test_step(batches[0])  # warm-up; the class text embeddings are cached from here on
        sync(args.device)
        t0, c0 = time.perf_counter(), time.process_time()
        for b in batches[1:]:
            model.test_step(b)
        sync(args.device)
        fwd_s, fwd_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    timed = sum(len(b['inputs']) for b in batches[1:])
    windows_per_s = timed / fwd_s
    evaluator = cfg.get('test_evaluator', {})
    nms_cfg = dict(evaluator.get('nms', dict(method='gaussian', sigma=0.5, min_score=0.001, max_seg_num=200)))
    rng = np.random.default_rng(0)
    picks = sorted(videos, key=lambda v: v[3])
    picks = [picks[int(i)] for i in np.linspace(0, len(picks) - 1, min(args.nms_videos, len(picks)))]
    step_s, topk = 4 / 30, int(model.test_cfg['topk'])
    nms_s = 0.0
    for vid, duration, num, n_win in picks:
        dets = _fake_window_detections(n_win, args.window * step_s, args.window * (1 - overlap) * step_s, topk,
                                       len(classes), rng)
        t0 = time.perf_counter()
        merge_window_detections(dets, nms_cfg, pre_nms_topk=evaluator.get('pre_nms_topk', 2000), duration=duration,
                                max_per_video=evaluator.get('max_per_video', 200))
        nms_s += time.perf_counter() - t0
    nms_ms = nms_s * 1e3 / len(picks)
    total_s = total_windows / windows_per_s + len(videos) * nms_ms / 1e3
    print(f'\n## Inference on THUMOS14-test-shaped input ({len(videos)} videos of {os.path.basename(args.ann_file)}, '
          f'I3D grid, windows of {args.window}, overlap {overlap}, {model.test_cfg.get("autocast") or "float32"})')
    rows = [('windows in the test set', f'{total_windows} ({total_windows / len(videos):.1f} per video)'),
            (f'model forward, {timed} windows timed in batches of {bs}', f'{windows_per_s:.1f} windows/s'),
            ('process CPU time per window (all threads)', f'{fwd_cpu_s * 1e3 / timed:.1f} ms'),
            (f'merge + Soft-NMS, {len(picks)} videos timed', f'{nms_ms:.1f} ms per video'),
            ('whole test set (extrapolated, no data loading)',
             f'{total_s:.1f} s = {len(videos) / total_s:.2f} videos/s')]
    print(format_table(['quantity', 'value'], rows, align='lr'))
    out['inference'] = dict(autocast=model.test_cfg.get('autocast'), videos=len(videos), windows=total_windows, timed_windows=timed,
                            windows_per_s=windows_per_s, cpu_ms_per_window=fwd_cpu_s * 1e3 / timed,
                            nms_ms_per_video=nms_ms, nms_videos_timed=len(picks),
                            total_s=total_s, videos_per_s=len(videos) / total_s)
