"""1-D multi-scale deformable attention module (Deformable DETR on a time axis)."""
import math
from typing import Optional

import torch
from torch import Tensor, nn

from zeetad.registry import MODELS

from .ms_deform_attn_func import ms_deform_attn_1d

__all__ = ['MultiScaleDeformableAttention1D']


@MODELS.register_module()
class MultiScaleDeformableAttention1D(nn.Module):
    """Each query attends to ``num_points`` learned offsets around its reference
    on each of ``num_levels`` levels, per head.

    Locations follow :mod:`.ms_deform_attn_func`: normalised time in ``[0, 1]``,
    ``x -> x * T - 0.5`` continuous index, zero padding outside.

    Args:
        embed_dim: channels ``C`` of query, value and output.
        num_heads: heads ``H``; ``C`` must be divisible by ``H``.
        num_levels: feature levels ``L``.
        num_points: sampling points ``P`` per head and level.
        dropout: dropout on the output projection.
        use_fused: use mmcv's CUDA kernel when it is installed and inputs are
            on CUDA (untested in this repository's CI, which has neither).
        method: pure-PyTorch variant (see ``ms_deform_attn_1d_pytorch``).
    """

    def __init__(self,
                 embed_dim: int,
                 num_heads: int,
                 num_levels: int,
                 num_points: int,
                 dropout: float = 0.,
                 use_fused: bool = True,
                 method: str = 'auto') -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f'embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})')
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_levels = num_levels
        self.num_points = num_points
        self.use_fused = use_fused
        self.method = method
        self.sampling_offsets = nn.Linear(embed_dim, num_heads * num_levels * num_points)
        self.attention_weights = nn.Linear(embed_dim, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(embed_dim, embed_dim)
        self.output_proj = nn.Linear(embed_dim, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.init_weights()

    def init_weights(self) -> None:
        """TadTR's init (Deformable DETR's, in 1-D).

        Offsets start as a fixed spread: head ``h`` points along ``cos(4 pi h / H)``
        (TadTR's direction; for ``H = 8``: ``1, 0, -1, 0, 1, 0, -1, 0``), point ``p``
        at ``p + 1`` times that (in steps for centre-only references, in
        ``width / (2 P)`` for segment references, so a unit direction's last point
        reaches the segment boundary). Attention starts uniform.
        """
        H, L, P = self.num_heads, self.num_levels, self.num_points
        nn.init.zeros_(self.sampling_offsets.weight)
        # float64 angles: cos(pi / 2) is then ~1e-17, not float32's ~4e-8.
        thetas = torch.arange(H, dtype=torch.float64) * (4.0 * math.pi / H)
        direction = thetas.cos().view(H, 1, 1)
        distance = torch.arange(1, P + 1, dtype=torch.float64).view(1, 1, P)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_((direction * distance).expand(H, L, P).reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def sampling_locations(self, query: Tensor, reference_points: Tensor, spatial_shapes: Tensor) -> Tensor:
        """``(B, Lq, H, L, P)`` locations in normalised time of each level."""
        B, Lq, _ = query.shape
        H, L, P = self.num_heads, self.num_levels, self.num_points
        offsets = self.sampling_offsets(query).view(B, Lq, H, L, P)
        centre = reference_points[:, :, None, :, None, 0]  # (B, Lq, 1, L, 1)
        if reference_points.shape[-1] == 1:
            # Offsets in steps of the level.
            return centre + offsets / spatial_shapes.to(offsets.dtype).view(1, 1, 1, L, 1)
        if reference_points.shape[-1] == 2:
            width = reference_points[:, :, None, :, None, 1]
            return centre + offsets / P * width * 0.5
        raise ValueError(f'reference_points must end in 1 (centre) or 2 (centre, width), '
                         f'got {tuple(reference_points.shape)}')

    def forward(self,
                query: Tensor,
                reference_points: Tensor,
                value: Tensor,
                spatial_shapes: Tensor,
                level_start_index: Tensor,
                value_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Attend from queries to the multi-level value sequence.

        Args:
            query: ``(B, Lq, C)``, positional embedding already added.
            reference_points: ``(B, Lq, L, 1)`` centres or ``(B, Lq, L, 2)``
                (centre, width), normalised time of each (padded) level.
            value: ``(B, S, C)``, levels flattened, ``S = sum(T_l)``.
            spatial_shapes: ``(L,)`` long level lengths ``T_l``.
            level_start_index: ``(L,)`` long level offsets in ``S``.
            value_padding_mask: ``(B, S)`` bool, True where padded; padded
                values are zeroed before sampling.

        Returns:
            ``(B, Lq, C)``.
        """
        B, Lq, C = query.shape
        S = value.shape[1]
        if spatial_shapes.numel() != self.num_levels or reference_points.shape[2] != self.num_levels:
            raise ValueError(f'expected {self.num_levels} levels, got spatial_shapes {tuple(spatial_shapes.shape)} '
                             f'and reference_points {tuple(reference_points.shape)}')
        value = self.value_proj(value)
        if value_padding_mask is not None:
            value = value.masked_fill(value_padding_mask[..., None], 0.)
        value = value.view(B, S, self.num_heads, C // self.num_heads)
        weights = self.attention_weights(query).view(B, Lq, self.num_heads, self.num_levels * self.num_points)
        weights = weights.softmax(-1).view(B, Lq, self.num_heads, self.num_levels, self.num_points)
        locations = self.sampling_locations(query, reference_points, spatial_shapes)
        out = ms_deform_attn_1d(value, spatial_shapes, level_start_index, locations, weights, self.use_fused,
                                self.method)
        return self.dropout(self.output_proj(out))

    def extra_repr(self) -> str:
        return (f'embed_dim={self.embed_dim}, num_heads={self.num_heads}, num_levels={self.num_levels}, '
                f'num_points={self.num_points}')
