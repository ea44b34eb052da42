"""Sine positional encoding for padded 1-D sequences."""
import math
from typing import Optional

import torch
from torch import Tensor, nn

from zeetad.registry import MODELS

__all__ = ['SinePositionalEncoding1D']


@MODELS.register_module()
class SinePositionalEncoding1D(nn.Module):
    """DETR's sine encoding on a time axis, aware of padding.

    Positions count valid steps only (padding is assumed to trail), and with
    ``normalize`` they are divided by each sequence's valid length, so a video
    gets the same encoding whatever the padding of its batch.

    Args:
        num_feats: output channels ``C`` (even).
        temperature: wavelength base.
        normalize: scale positions to ``(0, scale]`` by the valid length.
        scale: range of normalised positions (``2 pi`` covers one period of
            the slowest-but-one frequency, as in DETR).
        offset: added to positions before normalising (``-0.5`` puts them at
            sample centres).
        eps: guards the division for all-padded sequences.
    """

    def __init__(self,
                 num_feats: int,
                 temperature: float = 10000.,
                 normalize: bool = True,
                 scale: float = 2 * math.pi,
                 offset: float = 0.,
                 eps: float = 1e-6) -> None:
        super().__init__()
        if num_feats % 2:
            raise ValueError(f'num_feats must be even, got {num_feats}')
        self.num_feats = num_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale
        self.offset = offset
        self.eps = eps

    def forward(self, mask: Tensor, dtype: Optional[torch.dtype] = None) -> Tensor:
        """``mask`` ``(B, T)`` bool, True where padded -> ``(B, C, T)`` encoding.

        Channels alternate sin / cos of each frequency. ``dtype`` defaults to
        float32.
        """
        dtype = dtype or torch.float32
        position = (~mask).cumsum(1, dtype=dtype)  # 1..T_valid, flat over trailing padding
        if self.normalize:
            position = (position + self.offset) / (position[:, -1:] + self.eps) * self.scale
        index = torch.arange(self.num_feats, dtype=dtype, device=mask.device)
        inv_freq = self.temperature**(-2 * torch.div(index, 2, rounding_mode='floor') / self.num_feats)
        angles = position[:, :, None] * inv_freq  # (B, T, C)
        enc = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(2)
        return enc.transpose(1, 2).contiguous()

    def extra_repr(self) -> str:
        return f'num_feats={self.num_feats}, temperature={self.temperature}, normalize={self.normalize}'
