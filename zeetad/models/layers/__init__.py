"""Building blocks: 1-D multi-scale deformable attention, positional encoding, MLP, transformer layers."""
from .deformable_layers import DeformableDecoderLayer1D, DeformableEncoderLayer1D, FeedForward
from .masked_conv import MaskedConvNorm1d, MaskedGroupNorm, strided_mask
from .mlp import MLP, inverse_sigmoid
from .ms_deform_attn import MultiScaleDeformableAttention1D
from .ms_deform_attn_func import (ms_deform_attn_1d, ms_deform_attn_1d_fused, ms_deform_attn_1d_naive,
                                  ms_deform_attn_1d_pytorch)
from .positional_encoding import SinePositionalEncoding1D

__all__ = [
    'DeformableDecoderLayer1D', 'DeformableEncoderLayer1D', 'FeedForward', 'MLP', 'inverse_sigmoid',
    'MaskedConvNorm1d', 'MaskedGroupNorm', 'strided_mask',
    'MultiScaleDeformableAttention1D', 'ms_deform_attn_1d', 'ms_deform_attn_1d_fused', 'ms_deform_attn_1d_naive',
    'ms_deform_attn_1d_pytorch', 'SinePositionalEncoding1D'
]
