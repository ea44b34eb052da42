"""Timing 1-D deformable attention's pure-PyTorch variants against the naive Python loop, on the same inputs."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..harness import sync, time_calls

__all__ = ['AttentionCase', 'random_attention_inputs', 'compare_attention']


@dataclass
class AttentionCase:
    """One attention call's shape: ``B`` batch, ``Lq`` queries, level lengths, ``H`` heads, ``D`` per-head
    channels, ``P`` points."""
    name: str
    batch: int
    queries: int
    levels: tuple
    heads: int = 8
    head_dim: int = 32
    points: int = 4


def random_attention_inputs(case: AttentionCase, batch: int, device: str = 'cpu', seed: int = 0) -> tuple:
    """``(value (B, S, H, D), spatial_shapes (L,), level_start_index (L,), locations (B, Lq, H, L, P),
    weights (B, Lq, H, L, P))``; some locations fall outside [0, 1] to exercise the zero padding."""
    gen = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(case.levels, dtype=torch.long)
    starts = torch.cat((shapes.new_zeros(1), shapes.cumsum(0)[:-1]))
    L, S = len(case.levels), int(shapes.sum())
    value = torch.randn(batch, S, case.heads, case.head_dim, generator=gen)
    locations = torch.rand(batch, case.queries, case.heads, L, case.points, generator=gen) * 1.1 - 0.05
    weights = torch.randn(batch, case.queries, case.heads, L * case.points, generator=gen).softmax(-1)
    weights = weights.view(batch, case.queries, case.heads, L, case.points)
    return tuple(t.to(device) for t in (value, shapes, starts, locations, weights))


def _fwd_bwd(fn, inputs, grad):
    value, shapes, starts, loc, w = inputs
    leaves = [t.detach().requires_grad_(True) for t in (value, loc, w)]
    out = fn(leaves[0], shapes, starts, leaves[1], leaves[2])
    out.backward(grad)


def compare_attention(case: AttentionCase, methods=('auto', 'dense', 'gather', 'grid_sample'), repeat: int = 5,
                      naive_batch: int = 1, device: str = 'cpu') -> list[dict]:
    """Rows ``dict(method, forward_ms, fwd_bwd_ms, speedup_vs_naive, max_abs_diff, note)``; the pure-PyTorch
    timings are the best of ``repeat`` calls (robust to other jobs on a shared machine).

    The naive loop is timed (forward only, once) on the first ``naive_batch`` samples and scaled linearly to
    ``case.batch``: it makes one Python iteration per (sample, query, head, level, point), so its cost is
    linear in the batch. Differences are measured against it on those samples.
    """
    from zeetad.models.layers.ms_deform_attn_func import ms_deform_attn_1d_naive, ms_deform_attn_1d_pytorch
    inputs = random_attention_inputs(case, case.batch, device)
    naive_batch = max(1, min(naive_batch, case.batch))
    sub = tuple(t[:naive_batch] if t.dim() > 1 else t for t in inputs)
    with torch.no_grad():
        sync(device)
        t0 = time.perf_counter()
        ref = ms_deform_attn_1d_naive(*sub)
        sync(device)
        naive_ms = (time.perf_counter() - t0) * 1e3 * case.batch / naive_batch
    scale_note = '' if naive_batch == case.batch else f'timed on {naive_batch} of {case.batch} samples, scaled'
    rows = [dict(method='naive loop', forward_ms=naive_ms, fwd_bwd_ms=float('nan'), speedup_vs_naive=1.0,
                 max_abs_diff=0.0, note=scale_note)]
    grad = torch.randn(case.batch, case.queries, case.heads * case.head_dim, device=device)
    for method in methods:
        def fn(v, s, st, loc, w, method=method):
            return ms_deform_attn_1d_pytorch(v, s, st, loc, w, method=method)
        with torch.no_grad():
            out = fn(*inputs)
            fwd = time_calls(lambda: fn(*inputs), repeat, warmup=1, device=device)
        both = time_calls(lambda: _fwd_bwd(fn, inputs, grad), repeat, warmup=1, device=device)
        diff = float((out[:naive_batch] - ref).abs().max())
        rows.append(dict(method=method, forward_ms=fwd.best * 1e3, fwd_bwd_ms=both.best * 1e3,
                         speedup_vs_naive=naive_ms / (fwd.best * 1e3), max_abs_diff=diff,
                         note='what the model runs' if method == 'auto' else ''))
    return rows
