"""Deformable DETR encoder-decoder over 1-D multi-level features, with iterative segment refinement."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from zeetad.registry import MODELS

from ..layers import (MLP, DeformableDecoderLayer1D, DeformableEncoderLayer1D, MultiScaleDeformableAttention1D,
                      SinePositionalEncoding1D, inverse_sigmoid)

__all__ = ['DeformableTransformer1D', 'encoder_reference_points', 'valid_ratios']


def _coord_dtype(x: Tensor) -> torch.dtype:
    # Positions and ratios stay in float32 (or float64) under half-precision inputs.
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def valid_ratios(masks: Sequence[Tensor], dtype: torch.dtype = torch.float32, eps: float = 1e-6) -> Tensor:
    """Valid fraction of every level: list of ``(B, T_l)`` masks (True = padded) -> ``(B, L)``.

    Assumes trailing padding. Clamped to ``eps`` so an all-padded sample stays finite.
    """
    return torch.stack([(~m).sum(1).to(dtype) / m.shape[1] for m in masks], 1).clamp(min=eps)


def encoder_reference_points(spatial_shapes: Sequence[int], ratios: Tensor) -> Tensor:
    """Centre of every position, seen from every level: ``(B, L)`` ratios -> ``(B, S, L, 1)``.

    Position ``i`` of level ``l`` is ``(i + 0.5) / valid_T_l`` of the video; on
    level ``l'`` (normalised by its padded length) that is ``* ratio_l'``, so on
    its own level it lands exactly on its sample centre.
    """
    per_level = []
    for lvl, length in enumerate(spatial_shapes):
        centres = torch.arange(length, dtype=ratios.dtype, device=ratios.device) + 0.5
        per_level.append(centres[None] / (ratios[:, lvl:lvl + 1] * length))  # (B, T_l)
    return (torch.cat(per_level, 1)[:, :, None] * ratios[:, None])[..., None]


@MODELS.register_module()
class DeformableTransformer1D(nn.Module):
    """Deformable encoder over all levels + decoder of learned queries that refine segments.

    Segments are ``(centre, width)`` in ``[0, 1]`` of each video's valid length.
    Each decoder layer's segment head predicts a delta in logit space:
    ``segment = sigmoid(delta + inverse_sigmoid(reference))``; the next layer's
    reference is that segment detached (Deformable DETR's box refinement).

    Args:
        d_model: channels ``C`` of inputs and everything inside.
        nhead: attention heads.
        num_levels: number of input levels ``L``.
        num_points: sampling points per head and level.
        enc_layers: encoder layers (0 makes the memory the input features).
        dec_layers: decoder layers ``M`` (>= 1).
        dim_ff: FFN hidden channels.
        dropout: dropout of residual branches, FFN and query self-attention.
        activation: FFN activation, ``'relu'`` or ``'gelu'``.
        norm_first: pre-norm layers (with a final LayerNorm); default post-norm.
        num_queries: learned queries ``Q``.
        init_width: width of every initial reference segment.
        segment_head: config dict of the per-layer segment head (merged into a
            3-layer zero-init :class:`MLP` ``C -> C -> 2``), or a module to copy.
        share_segment_head: one head for all decoder layers instead of one each.
        positional_encoding: kwargs of :class:`SinePositionalEncoding1D`.
    """

    def __init__(self,
                 d_model: int = 256,
                 nhead: int = 8,
                 num_levels: int = 1,
                 num_points: int = 4,
                 enc_layers: int = 4,
                 dec_layers: int = 4,
                 dim_ff: int = 1024,
                 dropout: float = 0.1,
                 activation: str = 'relu',
                 norm_first: bool = False,
                 num_queries: int = 40,
                 init_width: float = 0.1,
                 segment_head: Optional[Union[dict, nn.Module]] = None,
                 share_segment_head: bool = False,
                 positional_encoding: Optional[dict] = None) -> None:
        super().__init__()
        if dec_layers < 1:
            raise ValueError(f'dec_layers must be >= 1, got {dec_layers}')
        if not 0 < init_width < 1:
            raise ValueError(f'init_width must be in (0, 1), got {init_width}')
        self.d_model = d_model
        self.num_levels = num_levels
        self.num_queries = num_queries
        self.init_width = init_width
        layer_cfg = dict(d_model=d_model, nhead=nhead, num_levels=num_levels, num_points=num_points, dim_ff=dim_ff,
                         dropout=dropout, activation=activation, norm_first=norm_first)
        self.encoder = nn.ModuleList(DeformableEncoderLayer1D(**layer_cfg) for _ in range(enc_layers))
        self.decoder = nn.ModuleList(DeformableDecoderLayer1D(**layer_cfg) for _ in range(dec_layers))
        # Pre-norm leaves the residual stream un-normalised after the last layer.
        self.encoder_norm = nn.LayerNorm(d_model) if norm_first and enc_layers else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.positional_encoding = SinePositionalEncoding1D(d_model, **(positional_encoding or {}))
        self.level_embed = nn.Parameter(torch.empty(num_levels, d_model))
        # Each query is (query_pos, content), as Deformable DETR splits a 2C embedding.
        self.query_embed = nn.Embedding(num_queries, 2 * d_model)
        self.reference_head = nn.Linear(d_model, 2)
        self.segment_heads = self._build_segment_heads(segment_head, dec_layers, share_segment_head)
        self.init_weights()

    def _build_segment_heads(self, head: Optional[Union[dict, nn.Module]], num: int, share: bool) -> nn.ModuleList:
        if isinstance(head, nn.Module):
            first = head
        else:
            cfg = dict(type='MLP', in_dim=self.d_model, hidden_dim=self.d_model, out_dim=2, num_layers=3,
                       zero_init_last=True)
            cfg.update(head or {})
            first = MODELS.build(cfg)
        if share:
            return nn.ModuleList([first] * num)
        return nn.ModuleList([first] + [copy.deepcopy(first) for _ in range(num - 1)])

    def init_weights(self) -> None:
        """Xavier for the layers' matrices then the attention's own init (as Deformable DETR);
        initial references: centres spread by ``query_pos``, widths all ``init_width``."""
        for p in [*self.encoder.parameters(), *self.decoder.parameters()]:
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MultiScaleDeformableAttention1D):
                m.init_weights()
        nn.init.normal_(self.level_embed)
        nn.init.normal_(self.query_embed.weight)
        nn.init.xavier_uniform_(self.reference_head.weight)
        nn.init.zeros_(self.reference_head.weight[1])
        nn.init.constant_(self.reference_head.bias, 0.)
        with torch.no_grad():
            self.reference_head.bias[1] = inverse_sigmoid(torch.tensor(self.init_width))
        for head in self.segment_heads:
            if isinstance(head, MLP):
                head.init_weights()

    def _flatten(self, feats: Sequence[Tensor], masks: Sequence[Tensor],
                 pos_embeds: Optional[Sequence[Tensor]]) -> Tuple[Tensor, Tensor, Tensor]:
        """Levels ``(B, C, T_l)`` -> ``(B, S, C)`` features, masks ``(B, S)``, pos + level embeddings ``(B, S, C)``."""
        src, mask, pos = [], [], []
        for lvl, (x, m) in enumerate(zip(feats, masks)):
            p = pos_embeds[lvl] if pos_embeds is not None else self.positional_encoding(m, _coord_dtype(x))
            src.append(x.transpose(1, 2))
            mask.append(m)
            pos.append(p.transpose(1, 2).to(x.dtype) + self.level_embed[lvl].to(x.dtype))
        return torch.cat(src, 1), torch.cat(mask, 1), torch.cat(pos, 1)

    def forward(self,
                feats: Sequence[Tensor],
                masks: Optional[Sequence[Tensor]] = None,
                pos_embeds: Optional[Sequence[Tensor]] = None,
                extra_queries: Optional[Dict[str, Tensor]] = None) -> Dict[str, Tensor]:
        """Encode the levels and decode ``Q`` refined segments.

        Args:
            feats: ``L`` feature maps ``(B, C, T_l)``.
            masks: ``L`` masks ``(B, T_l)``, True where padded (trailing); None: no padding.
            pos_embeds: ``L`` positional encodings ``(B, C, T_l)``; None: sine encoding of the masks.
            extra_queries: queries appended after the learned ones (denoising, :mod:`zeetad.models.denoising`):
                ``tgt``/``query_pos (B, E, C)``, ``reference (B, E, 2)`` (centre, width) and ``attn_mask``, the
                self-attention mask over all queries.

        Returns:
            dict with ``memory (B, S, C)`` (zero where padded), ``memory_mask (B, S)``,
            ``spatial_shapes (L,)``, ``level_start_index (L,)``, ``valid_ratios (B, L)``,
            ``hidden_states (M, B, Q, C)``, ``segments (M, B, Q, 2)`` (centre, width in
            ``[0, 1]`` of the valid length); with ``extra_queries`` the query axis holds ``Q + E`` queries,
            ``Q`` first.
        """
        feats = list(feats)
        if len(feats) != self.num_levels:
            raise ValueError(f'expected {self.num_levels} levels, got {len(feats)}')
        if any(x.shape[1] != self.d_model for x in feats):
            raise ValueError(f'every level must have {self.d_model} channels, got {[x.shape[1] for x in feats]}')
        if masks is None:
            masks = [x.new_zeros(x.shape[0], x.shape[2], dtype=torch.bool) for x in feats]
        lengths = [x.shape[2] for x in feats]
        device = feats[0].device
        spatial_shapes = torch.as_tensor(lengths, dtype=torch.long, device=device)
        level_start_index = torch.cat((spatial_shapes.new_zeros(1), spatial_shapes.cumsum(0)[:-1]))
        ratios = valid_ratios(masks, _coord_dtype(feats[0]))
        src, mask, pos = self._flatten(feats, masks, pos_embeds)

        memory = src
        if len(self.encoder):
            ref = encoder_reference_points(lengths, ratios)
            for layer in self.encoder:
                memory = layer(memory, pos, ref, spatial_shapes, level_start_index, mask)
            memory = self.encoder_norm(memory)
        memory = memory.masked_fill(mask[..., None], 0.)

        B = memory.shape[0]
        self_attn_mask = None
        query_pos, tgt = self.query_embed.weight.to(memory.dtype).split(self.d_model, dim=1)
        query_pos = query_pos[None].expand(B, -1, -1)
        tgt = tgt[None].expand(B, -1, -1)
        reference = self.reference_head(query_pos).sigmoid()  # (B, Q, 2)
        if extra_queries is not None:
            tgt = torch.cat((tgt, extra_queries['tgt'].to(tgt.dtype)), 1)
            query_pos = torch.cat((query_pos, extra_queries['query_pos'].to(tgt.dtype)), 1)
            reference = torch.cat((reference, extra_queries['reference'].to(reference.dtype)), 1)
            self_attn_mask = extra_queries['attn_mask']
        hidden_states: List[Tensor] = []
        segments: List[Tensor] = []
        for layer, head in zip(self.decoder, self.segment_heads):
            ref_input = reference[:, :, None] * ratios[:, None, :, None]  # (B, Q, L, 2)
            tgt = layer(tgt, query_pos, ref_input, memory, spatial_shapes, level_start_index, mask,
                        self_attn_mask=self_attn_mask)
            hidden = self.decoder_norm(tgt)
            segment = (head(hidden) + inverse_sigmoid(reference)).sigmoid()
            hidden_states.append(hidden)
            segments.append(segment)
            # Each layer learns its own delta; earlier layers get no gradient through later references.
            reference = segment.detach()
        return dict(memory=memory, memory_mask=mask, spatial_shapes=spatial_shapes,
                    level_start_index=level_start_index, valid_ratios=ratios,
                    hidden_states=torch.stack(hidden_states), segments=torch.stack(segments))
