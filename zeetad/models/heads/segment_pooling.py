"""Differentiable pooling of a feature sequence inside predicted segments."""
from __future__ import annotations

import torch


def soft_segment_mask(segments: torch.Tensor, length: int, valid_len: torch.Tensor,
                      sharpness: float = 0.5) -> torch.Tensor:
    """Soft indicator of each segment over the time grid.

    Args:
        segments: ``(B, Q, 2)`` start/end in [0, 1] of each sample's valid length.
        length: padded grid length ``T``.
        valid_len: ``(B,)`` valid steps per sample.
        sharpness: edge width in grid steps; small is closer to a hard box, larger gives smoother gradients.
    Returns:
        ``(B, Q, T)`` weights in (0, 1), zero at padded steps. Gradients reach both boundaries.
    """
    centres = (torch.arange(length, device=segments.device, dtype=segments.dtype) + 0.5)  # (T,)
    start = segments[..., :1] * valid_len[:, None, None]
    end = segments[..., 1:] * valid_len[:, None, None]
    # A segment shorter than a step still covers the step it sits in.
    half_min = 0.5
    mid = 0.5 * (start + end)
    start = torch.minimum(start, mid - half_min)
    end = torch.maximum(end, mid + half_min)
    mask = torch.sigmoid((centres - start) / sharpness) * torch.sigmoid((end - centres) / sharpness)
    valid = centres[None, :] < valid_len[:, None].to(segments.dtype)
    return mask * valid[:, None, :]


def pool_in_segments(features: torch.Tensor, segments: torch.Tensor, valid_len: torch.Tensor,
                     sharpness: float = 0.5) -> torch.Tensor:
    """Mean of ``features (B, T, D)`` weighted by the soft mask of ``segments (B, Q, 2)`` -> ``(B, Q, D)``."""
    mask = soft_segment_mask(segments, features.shape[1], valid_len, sharpness)
    weights = mask / mask.sum(-1, keepdim=True).clamp_min(1e-6)
    return torch.bmm(weights, features)


def sample_in_segments(features: torch.Tensor, segments: torch.Tensor, valid_len: torch.Tensor,
                       num_points: int) -> torch.Tensor:
    """Linear-interpolated samples at ``num_points`` evenly spaced positions inside each segment.

    ``features (B, T, C)``, ``segments (B, Q, 2)`` -> ``(B, Q, num_points, C)`` (1-D RoIAlign).
    """
    b, t, c = features.shape
    frac = (torch.arange(num_points, device=features.device, dtype=features.dtype) + 0.5) / num_points
    pos = segments[..., :1] + (segments[..., 1:] - segments[..., :1]) * frac  # (B, Q, P) in [0, 1]
    idx = (pos * valid_len[:, None, None] - 0.5).clamp_min(0)
    idx = torch.minimum(idx, (valid_len[:, None, None] - 1).to(idx.dtype))
    lo = idx.floor().long()
    hi = torch.minimum(lo + 1, (valid_len[:, None, None] - 1).long())
    w = (idx - lo).unsqueeze(-1)
    flat = features.reshape(b * t, c)
    offset = (torch.arange(b, device=features.device) * t)[:, None, None]
    return flat[lo + offset] * (1 - w) + flat[hi + offset] * w
