"""1-D multi-scale deformable attention: the sampling-and-weighting core.

Conventions (shared by every implementation here):

* ``value`` is ``(B, S, H, D)``: ``L`` levels flattened along time, level ``l``
  occupying ``[level_start_index[l], level_start_index[l] + spatial_shapes[l])``.
* ``sampling_locations`` ``(B, Lq, H, L, P)`` are in normalised time ``[0, 1]``
  of the (padded) level: location ``x`` on a level of length ``T`` is the
  continuous index ``x * T - 0.5``, so sample ``i`` sits at ``(i + 0.5) / T``
  (``align_corners=False`` semantics; no half-step offset).
* Values between samples are linearly interpolated; outside ``[0, T - 1]`` the
  sequence is zero padded, so a location half a step beyond the last centre gets
  half of the last value.
* ``attention_weights`` ``(B, Lq, H, L, P)`` multiply the samples; the output is
  ``(B, Lq, H * D)``.
"""
import functools
import math
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'ms_deform_attn_1d', 'ms_deform_attn_1d_pytorch', 'ms_deform_attn_1d_naive', 'ms_deform_attn_1d_fused',
    'mmcv_ms_deform_attn_kernel'
]


def _interp_dtype(locations: Tensor) -> torch.dtype:
    # Half precision cannot resolve x * T to a fraction of a step for long sequences.
    return torch.float64 if locations.dtype == torch.float64 else torch.float32


def _neighbours(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor, sampling_locations: Tensor,
                attention_weights: Tensor) -> Tuple[Tensor, Tensor]:
    """Indices into ``S`` and weights of the two neighbours of every sample.

    Returns ``(index, weight)``, both ``(B, H, Lq, K)`` with ``K = 2 * L * P``;
    the weights fold the interpolation and attention weights together.
    """
    B, _, H, _ = value.shape
    _, Lq, _, L, P = sampling_locations.shape
    lengths = spatial_shapes.view(1, 1, 1, L, 1)
    pos = sampling_locations.to(_interp_dtype(sampling_locations)) * lengths - 0.5
    # Beyond one step outside, both neighbours are padding (value and gradient 0);
    # clamping there keeps diverged offsets from overflowing the integer cast.
    pos = torch.minimum(pos.clamp(min=-2), lengths + 1)
    left_f = pos.floor()
    frac = (pos - left_f).to(value.dtype)
    left = left_f.long()
    right = left + 1
    attn = attention_weights.to(value.dtype)
    # Out-of-range neighbours (zero padding) get weight 0 and a clamped, harmless index.
    w_left = attn * (1 - frac) * ((left >= 0) & (left < lengths))
    w_right = attn * frac * ((right >= 0) & (right < lengths))
    start = level_start_index.view(1, 1, 1, L, 1)
    last = lengths - 1
    i_left = torch.minimum(left.clamp(min=0), last) + start
    i_right = torch.minimum(right.clamp(min=0), last) + start
    K = L * P * 2
    index = torch.stack((i_left, i_right), -1).view(B, Lq, H, K).permute(0, 2, 1, 3)
    weight = torch.stack((w_left, w_right), -1).view(B, Lq, H, K).permute(0, 2, 1, 3)
    return index, weight


def _ms_deform_attn_1d_gather(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor,
                              sampling_locations: Tensor, attention_weights: Tensor) -> Tensor:
    """Gather the ``K`` neighbours of every query: memory linear in ``Lq``, fast
    forward but a slow scatter in backward on CPU."""
    B, S, H, D = value.shape
    Lq = sampling_locations.shape[1]
    index, weight = _neighbours(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    K = index.shape[-1]
    batch_head_offset = torch.arange(B * H, device=value.device).view(B, H, 1, 1) * S
    flat_value = value.permute(0, 2, 1, 3).reshape(B * H * S, D)
    samples = F.embedding((index + batch_head_offset).reshape(B * H * Lq, K), flat_value)
    out = torch.bmm(weight.reshape(B * H * Lq, 1, K), samples)  # (B*H*Lq, 1, D)
    return out.view(B, H, Lq, D).permute(0, 2, 1, 3).reshape(B, Lq, H * D)


def _ms_deform_attn_1d_dense(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor,
                             sampling_locations: Tensor, attention_weights: Tensor) -> Tensor:
    """Scatter the weights into a dense ``(B*H, Lq, S)`` matrix and multiply.

    Quadratic memory, but forward and backward are plain batched matmuls, which
    beats gather/scatter on CPU for THUMOS-sized windows.
    """
    B, S, H, D = value.shape
    Lq = sampling_locations.shape[1]
    index, weight = _neighbours(value, spatial_shapes, level_start_index, sampling_locations, attention_weights)
    # In place into fresh zeros: the out-of-place scatter_add would first copy the (B*H, Lq, S) zeros.
    dense = value.new_zeros(B * H, Lq, S).scatter_add_(2, index.reshape(B * H, Lq, -1), weight.reshape(B * H, Lq, -1))
    out = torch.bmm(dense, value.permute(0, 2, 1, 3).reshape(B * H, S, D))
    return out.view(B, H, Lq, D).permute(0, 2, 1, 3).reshape(B, Lq, H * D)


def _ms_deform_attn_1d_grid_sample(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor,
                                   sampling_locations: Tensor, attention_weights: Tensor) -> Tensor:
    """Linear interpolation with ``F.grid_sample`` on height-1 images, level by level."""
    B, S, H, D = value.shape
    _, Lq, _, L, P = sampling_locations.shape
    # (B*H, Lq, L, P): grid x in [-1, 1]; with align_corners=False and height 1,
    # y = 0 lands exactly on the single row ((0 + 1) * 1 - 1) / 2 = 0. Beyond
    # |x| = 3 every level is entirely padding, so clamping there changes nothing.
    grid_x = (2 * sampling_locations - 1).clamp(-3, 3)
    grid_x = grid_x.permute(0, 2, 1, 3, 4).reshape(B * H, Lq, L, P).to(value.dtype)
    grid = torch.stack((grid_x, torch.zeros_like(grid_x)), -1)
    per_level = []
    for lvl, (start, length) in enumerate(zip(level_start_index.tolist(), spatial_shapes.tolist())):
        v = value[:, start:start + length].permute(0, 2, 3, 1).reshape(B * H, D, 1, length)
        per_level.append(
            F.grid_sample(v, grid[:, :, lvl], mode='bilinear', padding_mode='zeros', align_corners=False))
    samples = torch.stack(per_level, -2).flatten(-2)  # (B*H, D, Lq, L*P)
    attn = attention_weights.permute(0, 2, 1, 3, 4).reshape(B * H, 1, Lq, L * P).to(value.dtype)
    out = (samples * attn).sum(-1)  # (B*H, D, Lq)
    return out.view(B, H * D, Lq).transpose(1, 2).contiguous()


_PYTORCH_METHODS = {
    'dense': _ms_deform_attn_1d_dense,
    'gather': _ms_deform_attn_1d_gather,
    'grid_sample': _ms_deform_attn_1d_grid_sample,
}
# Dense work per query grows with S, sparse work with L * P samples. On CPU
# (1-2 threads, B=8, H=8, D=32) dense wins up to about S = 64 L P: 2-4x faster
# for THUMOS windows (S = 256, P = 4) and 4-level pyramids, 2x slower than
# grid_sample for a single level of 384 or more.
DENSE_KEYS_PER_SAMPLE = 64
DENSE_MAX_ELEMENTS = 2**26  # (B*H, Lq, S) matrix: 256 MB in float32


def _auto_method(value: Tensor, sampling_locations: Tensor) -> str:
    B, S, H, _ = value.shape
    _, Lq, _, L, P = sampling_locations.shape
    if S <= DENSE_KEYS_PER_SAMPLE * L * P and B * H * Lq * S <= DENSE_MAX_ELEMENTS:
        return 'dense'
    return 'grid_sample'


def ms_deform_attn_1d_pytorch(value: Tensor,
                              spatial_shapes: Tensor,
                              level_start_index: Tensor,
                              sampling_locations: Tensor,
                              attention_weights: Tensor,
                              method: str = 'auto') -> Tensor:
    """Pure-PyTorch 1-D deformable attention, differentiable, any device.

    Args:
        value: ``(B, S, H, D)``.
        spatial_shapes: ``(L,)`` long, length ``T_l`` of every level.
        level_start_index: ``(L,)`` long, offset of every level in ``S``.
        sampling_locations: ``(B, Lq, H, L, P)`` normalised time.
        attention_weights: ``(B, Lq, H, L, P)``.
        method: ``'dense'``, ``'gather'``, ``'grid_sample'`` (same numbers), or
            ``'auto'``: dense for short sequences (see ``DENSE_KEYS_PER_SAMPLE``),
            else grid_sample.

    Returns:
        ``(B, Lq, H * D)``.
    """
    if method == 'auto':
        method = _auto_method(value, sampling_locations)
    if method not in _PYTORCH_METHODS:
        raise ValueError(f"method must be 'auto' or one of {sorted(_PYTORCH_METHODS)}, got {method!r}")
    return _PYTORCH_METHODS[method](value, spatial_shapes, level_start_index, sampling_locations,
                                    attention_weights)


def ms_deform_attn_1d_naive(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor,
                            sampling_locations: Tensor, attention_weights: Tensor) -> Tensor:
    """Reference: one Python iteration per (batch, query, head, level, point).

    Written for obviousness, not speed; used by tests and benchmarks. Same
    arguments and result as :func:`ms_deform_attn_1d_pytorch`.
    """
    B, _, H, D = value.shape
    _, Lq, _, L, P = sampling_locations.shape
    lengths = spatial_shapes.tolist()
    starts = level_start_index.tolist()
    rows = []
    for b in range(B):
        for q in range(Lq):
            for h in range(H):
                acc = value.new_zeros(D)
                for lvl in range(L):
                    length, start = lengths[lvl], starts[lvl]
                    for p in range(P):
                        x = sampling_locations[b, q, h, lvl, p] * length - 0.5
                        left = math.floor(float(x.detach()))
                        frac = x - left
                        sample = value.new_zeros(D)
                        if 0 <= left < length:
                            sample = sample + (1 - frac) * value[b, start + left, h]
                        if 0 <= left + 1 < length:
                            sample = sample + frac * value[b, start + left + 1, h]
                        acc = acc + attention_weights[b, q, h, lvl, p] * sample
                rows.append(acc)
    if not rows:
        return value.new_zeros(B, Lq, H * D)
    return torch.stack(rows).view(B, Lq, H * D)


@functools.lru_cache(maxsize=1)
def mmcv_ms_deform_attn_kernel() -> Optional[Callable]:
    """mmcv's compiled ``MultiScaleDeformableAttnFunction.apply`` or None.

    Only full mmcv (with ``mmcv._ext``) has it; mmcv-lite does not. The probe is
    memoised so a missing extension costs one failed import, not one per call.
    """
    try:
        from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction
    except Exception:  # ImportError, or a broken/ABI-mismatched extension
        return None
    return MultiScaleDeformableAttnFunction.apply


def ms_deform_attn_1d_fused(value: Tensor,
                            spatial_shapes: Tensor,
                            level_start_index: Tensor,
                            sampling_locations: Tensor,
                            attention_weights: Tensor,
                            kernel: Callable,
                            im2col_step: int = 64) -> Tensor:
    """Run a 2-D Deformable-DETR kernel on height-1 levels.

    The kernel maps ``(x, y)`` in ``[0, 1]`` to ``(x * W - 0.5, y * H - 0.5)``;
    with ``H = 1`` the constant ``y = 0.5`` hits the single row exactly, and
    ``x`` keeps this module's convention. ``kernel`` follows mmcv's signature
    ``(value, shapes (L, 2) as (h, w), level_start_index, locations (..., 2) as
    (x, y), weights, im2col_step)``.
    """
    B = value.shape[0]
    shapes_2d = torch.stack((torch.ones_like(spatial_shapes), spatial_shapes), -1).contiguous()
    locations_2d = torch.stack((sampling_locations, torch.full_like(sampling_locations, 0.5)), -1)
    # mmcv asserts that the batch is a multiple of the im2col step.
    step = math.gcd(B, im2col_step) if B > 0 else 1
    return kernel(value.contiguous(), shapes_2d, level_start_index.contiguous(), locations_2d.contiguous(),
                  attention_weights.contiguous(), step)


def ms_deform_attn_1d(value: Tensor,
                      spatial_shapes: Tensor,
                      level_start_index: Tensor,
                      sampling_locations: Tensor,
                      attention_weights: Tensor,
                      use_fused: bool = True,
                      method: str = 'auto') -> Tensor:
    """Dispatch: mmcv's fused CUDA kernel when available and on CUDA, else pure PyTorch.

    Arguments and result as :func:`ms_deform_attn_1d_pytorch` (``method`` picks
    the pure-PyTorch variant).
    """
    if use_fused and value.is_cuda:
        kernel = mmcv_ms_deform_attn_kernel()
        if kernel is not None:
            return ms_deform_attn_1d_fused(value, spatial_shapes, level_start_index, sampling_locations,
                                           attention_weights, kernel)
    return ms_deform_attn_1d_pytorch(value, spatial_shapes, level_start_index, sampling_locations,
                                     attention_weights, method)
