"""Padding-aware Conv1d + GroupNorm: a window gives the same features alone or padded inside a batch."""
from typing import Optional

import torch
from torch import Tensor, nn

__all__ = ['MaskedGroupNorm', 'MaskedConvNorm1d', 'strided_mask']


def strided_mask(mask: Tensor, stride: int, length: int) -> Tensor:
    """Padding mask ``(B, T)`` after a stride-``stride`` conv of output length ``length`` -> ``(B, length)``.

    Output step ``i`` is centred on input step ``i * stride``, so it is valid iff that step is: a window of
    ``n`` valid steps keeps ``ceil(n / stride)``, exactly what the conv gives the same window alone.
    """
    return mask[:, ::stride][:, :length]


class MaskedGroupNorm(nn.GroupNorm):
    """GroupNorm whose statistics cover valid steps only; padded steps come out as zero.

    Plain GroupNorm averages over the whole padded length, so a short window's features would depend on how
    much padding its batch gave it. Parameters and state-dict keys are those of :class:`torch.nn.GroupNorm`.
    """

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """``x (B, C, T)``, ``mask (B, T)`` True where padded (None: no padding) -> ``(B, C, T)``."""
        if mask is None:
            return super().forward(x)
        B, C, T = x.shape
        G = self.num_groups
        # Half-precision sums over long windows lose the mean; normalise in float32 as autocast does for GN.
        dtype = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        valid = (~mask).to(dtype).view(B, 1, 1, T)
        g = x.to(dtype).view(B, G, C // G, T)
        count = (valid.sum(-1, keepdim=True) * (C // G)).clamp_min(1.0)  # an all-padded sample stays finite
        mean = (g * valid).sum((2, 3), keepdim=True) / count
        centred = (g - mean) * valid
        var = centred.square().sum((2, 3), keepdim=True) / count  # biased, as GroupNorm
        out = (centred * torch.rsqrt(var + self.eps)).view(B, C, T)
        if self.affine:
            out = out * self.weight.to(dtype)[:, None] + self.bias.to(dtype)[:, None]
        return (out * valid.view(B, 1, T)).to(x.dtype)


class MaskedConvNorm1d(nn.Sequential):
    """``Conv1d(kernel_size, padding=kernel_size // 2, stride)`` then :class:`MaskedGroupNorm`, both blind to
    padded steps (``kernel_size`` odd, so output step ``i`` is centred on input step ``i * stride``).

    Padded input steps are zeroed before the conv, so the taps at a window's last valid step read the same
    zeros as the conv's own boundary padding of the window alone; outputs are zero at padded steps.
    Indexable like the ``Sequential(Conv1d, GroupNorm)`` it replaces (``[0]`` is the conv).
    """

    def __init__(self, in_dim: int, out_dim: int, stride: int = 1, groups: int = 32, kernel_size: int = 3) -> None:
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'kernel_size must be a positive odd number, got {kernel_size}')
        super().__init__(nn.Conv1d(in_dim, out_dim, kernel_size, stride=stride, padding=kernel_size // 2),
                         MaskedGroupNorm(min(groups, out_dim), out_dim))
        self.stride = stride

    def forward(self, x: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """``x (B, C_in, T)``, ``mask (B, T)`` True where padded -> ``(B, C_out, ceil(T / stride))``;
        the output's mask is :func:`strided_mask` of ``mask``."""
        conv, norm = self[0], self[1]
        if mask is None:
            return norm(conv(x))
        y = conv(x.masked_fill(mask[:, None, :], 0.0))
        return norm(y, strided_mask(mask, self.stride, y.shape[-1]))
