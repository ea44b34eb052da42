"""Encoder and decoder layers of the 1-D deformable transformer."""
from typing import Optional

from torch import Tensor, nn

from zeetad.registry import MODELS

from .ms_deform_attn import MultiScaleDeformableAttention1D

__all__ = ['FeedForward', 'DeformableEncoderLayer1D', 'DeformableDecoderLayer1D']

_ACTIVATIONS = {'relu': nn.ReLU, 'gelu': nn.GELU}


class FeedForward(nn.Module):
    """``Linear -> activation -> dropout -> Linear``: ``(..., C) -> (..., C)``."""

    def __init__(self, d_model: int, dim_ff: int, dropout: float = 0.1, activation: str = 'relu') -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f'activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}')
        self.net = nn.Sequential(
            nn.Linear(d_model, dim_ff), _ACTIVATIONS[activation](), nn.Dropout(dropout), nn.Linear(dim_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class _Residual(nn.Module):
    """``x + dropout(f(x))`` with LayerNorm after (post-norm) or before ``f`` (pre-norm)."""

    def __init__(self, d_model: int, dropout: float, norm_first: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def pre(self, x: Tensor) -> Tensor:
        """What the sub-layer sees."""
        return self.norm(x) if self.norm_first else x

    def post(self, x: Tensor, update: Tensor) -> Tensor:
        """Combine the residual with the sub-layer's output."""
        x = x + self.dropout(update)
        return x if self.norm_first else self.norm(x)


@MODELS.register_module()
class DeformableEncoderLayer1D(nn.Module):
    """Deformable self-attention over all levels + FFN.

    Args:
        d_model: channels ``C``.
        nhead: attention heads.
        num_levels: feature levels.
        num_points: sampling points per head and level.
        dim_ff: FFN hidden channels.
        dropout: dropout on residual branches and inside the FFN.
        activation: ``'relu'`` or ``'gelu'``.
        norm_first: pre-norm; default post-norm as Deformable DETR.
    """

    def __init__(self, d_model: int = 256, nhead: int = 8, num_levels: int = 1, num_points: int = 4,
                 dim_ff: int = 1024, dropout: float = 0.1, activation: str = 'relu', norm_first: bool = False) -> None:
        super().__init__()
        self.self_attn = MultiScaleDeformableAttention1D(d_model, nhead, num_levels, num_points)
        self.attn_res = _Residual(d_model, dropout, norm_first)
        self.ffn = FeedForward(d_model, dim_ff, dropout, activation)
        self.ffn_res = _Residual(d_model, dropout, norm_first)

    def forward(self, src: Tensor, pos: Tensor, reference_points: Tensor, spatial_shapes: Tensor,
                level_start_index: Tensor, padding_mask: Optional[Tensor] = None) -> Tensor:
        """``src``/``pos`` ``(B, S, C)``, ``reference_points`` ``(B, S, L, 1 or 2)``,
        ``padding_mask`` ``(B, S)`` -> ``(B, S, C)``."""
        x = self.attn_res.pre(src)
        src = self.attn_res.post(
            src, self.self_attn(x + pos, reference_points, x, spatial_shapes, level_start_index, padding_mask))
        return self.ffn_res.post(src, self.ffn(self.ffn_res.pre(src)))


@MODELS.register_module()
class DeformableDecoderLayer1D(nn.Module):
    """Query self-attention + deformable cross-attention to the memory + FFN.

    Arguments as :class:`DeformableEncoderLayer1D`.
    """

    def __init__(self, d_model: int = 256, nhead: int = 8, num_levels: int = 1, num_points: int = 4,
                 dim_ff: int = 1024, dropout: float = 0.1, activation: str = 'relu', norm_first: bool = False) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.self_res = _Residual(d_model, dropout, norm_first)
        self.cross_attn = MultiScaleDeformableAttention1D(d_model, nhead, num_levels, num_points)
        self.cross_res = _Residual(d_model, dropout, norm_first)
        self.ffn = FeedForward(d_model, dim_ff, dropout, activation)
        self.ffn_res = _Residual(d_model, dropout, norm_first)

    def forward(self, tgt: Tensor, query_pos: Tensor, reference_points: Tensor, memory: Tensor,
                spatial_shapes: Tensor, level_start_index: Tensor,
                memory_padding_mask: Optional[Tensor] = None, self_attn_mask: Optional[Tensor] = None) -> Tensor:
        """``tgt``/``query_pos`` ``(B, Q, C)``, ``reference_points`` ``(B, Q, L, 1 or 2)``,
        ``memory`` ``(B, S, C)``, ``memory_padding_mask`` ``(B, S)``, ``self_attn_mask`` ``(Q, Q)`` bool, True
        where a query may not attend (training-only denoising queries) -> ``(B, Q, C)``."""
        x = self.self_res.pre(tgt)
        q = x + query_pos
        tgt = self.self_res.post(tgt, self.self_attn(q, q, x, attn_mask=self_attn_mask, need_weights=False)[0])
        x = self.cross_res.pre(tgt)
        tgt = self.cross_res.post(
            tgt,
            self.cross_attn(x + query_pos, reference_points, memory, spatial_shapes, level_start_index,
                            memory_padding_mask))
        return self.ffn_res.post(tgt, self.ffn(self.ffn_res.pre(tgt)))
