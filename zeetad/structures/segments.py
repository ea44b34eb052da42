"""Temporal segment operations: format conversion and (generalised) tIoU.

The one home of these operations (the matcher, the losses, the heads and the model's post-processing use
them). Segments are ``(..., 2)`` tensors either in ``(centre, width)`` ("cw") or
``(start, end)`` ("t1t2") format. Every function is differentiable and safe for
degenerate segments: zero-length or reversed (``end < start``) segments have
length 0, and wherever a union or enclosing span is 0 the result is 0, never NaN
(neither in the value nor in its gradient).
"""
from typing import Tuple

import torch
from torch import Tensor

from .tiou_numpy import paired_tiou  # noqa: F401 (the numpy twin, for the evaluator)

__all__ = [
    'segment_cw_to_t1t2', 'segment_t1t2_to_cw', 'segment_length', 'segment_iou',
    'generalized_segment_iou', 'paired_tiou'
]


def segment_cw_to_t1t2(segments: Tensor) -> Tensor:
    """``(..., 2)`` (centre, width) -> ``(..., 2)`` (start, end)."""
    centre, width = segments.unbind(-1)
    half = 0.5 * width
    return torch.stack((centre - half, centre + half), dim=-1)


def segment_t1t2_to_cw(segments: Tensor) -> Tensor:
    """``(..., 2)`` (start, end) -> ``(..., 2)`` (centre, width)."""
    start, end = segments.unbind(-1)
    return torch.stack((0.5 * (start + end), end - start), dim=-1)


def segment_length(segments: Tensor) -> Tensor:
    """``(..., 2)`` (start, end) -> ``(...)`` lengths; reversed segments count as 0."""
    return (segments[..., 1] - segments[..., 0]).clamp(min=0)


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with 0 where ``den <= 0``.

    Dividing by a placeholder 1 instead of clamping to an epsilon keeps tiny but
    valid denominators exact, and keeps the unused branch free of inf/NaN so
    ``torch.where`` does not leak NaN gradients.
    """
    valid = den > 0
    return torch.where(valid, num / torch.where(valid, den, torch.ones_like(den)), torch.zeros_like(num))


def _pairwise_bounds(a: Tensor, b: Tensor, aligned: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Broadcast starts/ends of ``a`` against ``b``: ``(..., N, M)`` or ``(..., N)`` if aligned."""
    if aligned:
        if a.shape != b.shape:
            raise ValueError(f'aligned segment ops need equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}')
        return a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    return a[..., :, None, 0], a[..., :, None, 1], b[..., None, :, 0], b[..., None, :, 1]


def _check(a: Tensor, b: Tensor) -> None:
    if a.shape[-1] != 2 or b.shape[-1] != 2:
        raise ValueError(f'segments must have a last dim of 2, got {tuple(a.shape)} and {tuple(b.shape)}')


def _inter_union(a: Tensor, b: Tensor, aligned: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """Intersection, union and enclosing span, reversed segments counted as length 0."""
    s1, e1, s2, e2 = _pairwise_bounds(a, b, aligned)
    inter = (torch.minimum(e1, e2) - torch.maximum(s1, s2)).clamp(min=0)
    len1 = (e1 - s1).clamp(min=0)
    len2 = (e2 - s2).clamp(min=0)
    union = len1 + len2 - inter
    enclose = (torch.maximum(e1, e2) - torch.minimum(s1, s2)).clamp(min=0)
    return inter, union, enclose


def segment_iou(a: Tensor, b: Tensor, aligned: bool = False) -> Tensor:
    """Temporal IoU of (start, end) segments.

    Args:
        a: ``(..., N, 2)`` segments (start, end).
        b: ``(..., M, 2)`` segments (start, end); leading batch dims broadcast with ``a``'s.
        aligned: if True, ``a`` and ``b`` must have equal shapes and the IoU of
            each row pair is returned as ``(..., N)``.

    Returns:
        ``(..., N, M)`` pairwise tIoU in [0, 1] (``(..., N)`` if aligned); 0 where the union is 0.
    """
    _check(a, b)
    inter, union, _ = _inter_union(a, b, aligned)
    return _safe_div(inter, union)


def generalized_segment_iou(a: Tensor, b: Tensor, aligned: bool = False) -> Tensor:
    """Generalised temporal IoU: ``iou - (enclosing - union) / enclosing``.

    Args:
        a: ``(N, 2)`` segments (start, end).
        b: ``(M, 2)`` segments (start, end).
        aligned: as in :func:`segment_iou`.

    Returns:
        ``(N, M)`` (or ``(N,)``) values in [-1, 1]; the penalty term is 0 where
        the enclosing span is 0.
    """
    _check(a, b)
    inter, union, enclose = _inter_union(a, b, aligned)
    iou = _safe_div(inter, union)
    return iou - _safe_div(enclose - union, enclose)
