"""Denoising queries (DN-DETR, Li et al., 2022) for temporal segments, training only.

Each step, every ground-truth segment is copied into ``num_groups`` extra decoder queries whose reference is
the segment with noise (centre moved by up to ``box_noise * width / 2``, width scaled by ``1 +- box_noise``).
The decoder reconstructs the true segment from them, and the zero-shot classifier names it from the CLIP
frames pooled there; their assignment is known, so no matching is needed, which is what makes DETR converge
faster on little data. The content of a denoising query is one learned vector (class-agnostic: a label
embedding could not exist for classes unseen in training) and its position embedding an MLP of the sine
encoding of its reference, as DN-Deformable-DETR.

Attention mask (True = blocked): the matching queries never see denoising queries (they would see the
answer), the denoising groups do not see each other, and every denoising query sees the matching queries
(the learned queries). Config: ``model.denoising=dict(num_groups=G, box_noise=0.4, weight=1.0)``
(:class:`~zeetad.models.zeetad.ZEETAD`); None (default): no denoising.
"""
from __future__ import annotations

import math
from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

__all__ = ['DenoisingQueries', 'denoising_attention_mask', 'noise_segments']

_KEYS = ('num_groups', 'box_noise', 'weight')


def noise_segments(segments: Tensor, box_noise: float, generator: Optional[torch.Generator] = None) -> Tensor:
    """``(N, 2)`` (centre, width) -> noised copy: centre + U(-1, 1) * box_noise * width / 2, width * (1 + U(-1, 1)
    * box_noise), clamped inside ``[0, 1]`` (widths at least 1e-3)."""
    u = torch.rand(segments.shape, generator=generator, device=segments.device, dtype=segments.dtype) * 2 - 1
    centre = segments[:, 0] + u[:, 0] * box_noise * segments[:, 1] / 2
    width = segments[:, 1] * (1 + u[:, 1] * box_noise)
    return torch.stack((centre.clamp(0.0, 1.0), width.clamp(1e-3, 1.0)), dim=-1)


def denoising_attention_mask(num_queries: int, num_dn_groups: int, dn_group_size: int,
                             device: Optional[torch.device] = None) -> Tensor:
    """``(Q + G * S, Q + G * S)`` bool mask over the ``Q`` learned queries followed by ``G`` denoising groups of
    ``S`` queries, True where a query may not attend (``nn.MultiheadAttention``'s ``attn_mask`` convention):
    each group sees itself only, except that denoising queries also read the learned ones."""
    sizes = torch.as_tensor([num_queries] + [dn_group_size] * num_dn_groups, device=device)
    group = torch.repeat_interleave(torch.arange(len(sizes), device=device), sizes)
    mask = group[:, None] != group[None, :]
    mask[num_queries:, :num_queries] = False  # denoising queries read the learned queries, never the reverse
    return mask


def _sine(reference: Tensor, dim: int, temperature: float = 10000.0) -> Tensor:
    """``(..., 2)`` in [0, 1] -> ``(..., dim)``: ``dim / 2`` sine/cosine channels per coordinate."""
    half = dim // 2
    freq = temperature ** (2 * (torch.arange(half // 2, device=reference.device, dtype=reference.dtype)) / half)
    x = reference[..., None] * 2 * math.pi / freq  # (..., 2, half / 2)
    return torch.cat((x.sin(), x.cos()), -1).flatten(-2)


class DenoisingQueries(nn.Module):
    """Builds the denoising queries of a batch and their losses.

    Args:
        d_model: decoder width ``C``.
        num_groups: noised copies of every ground-truth segment.
        box_noise: DN-DETR's ``lambda``: relative noise of centre and width.
        weight: factor on the ``dn.*`` losses.
    """

    def __init__(self, d_model: int, num_groups: int = 2, box_noise: float = 0.4, weight: float = 1.0) -> None:
        super().__init__()
        if num_groups < 1:
            raise ValueError(f'model.denoising.num_groups must be >= 1, got {num_groups}')
        if not 0.0 <= box_noise <= 1.0:
            raise ValueError(f'model.denoising.box_noise must be in [0, 1], got {box_noise}')
        if d_model % 4:
            raise ValueError(f'model.denoising needs d_model divisible by 4, got {d_model}')
        self.d_model, self.num_groups, self.box_noise, self.weight = d_model, num_groups, box_noise, weight
        self.content = nn.Parameter(torch.zeros(d_model))
        self.pos_head = nn.Sequential(nn.Linear(d_model, d_model), nn.ReLU(), nn.Linear(d_model, d_model))

    @classmethod
    def from_cfg(cls, d_model: int, cfg: Mapping) -> 'DenoisingQueries':
        unknown = set(cfg) - set(_KEYS)
        if unknown:
            raise KeyError(f'model.denoising: unknown keys {sorted(unknown)}; expected {list(_KEYS)}')
        return cls(d_model, **cfg)

    def build(self, targets: Sequence[Mapping[str, Tensor]], num_queries: int, dtype: torch.dtype,
              device: torch.device) -> Optional[Dict]:
        """The batch's denoising queries: ``tgt``, ``query_pos (B, E, C)``, ``reference (B, E, 2)`` (centre,
        width), ``attn_mask`` over all queries, ``valid (B, E)``; None when the batch has no ground truth.

        Query ``g * S + n`` of video ``b`` is group ``g``'s copy of segment ``n`` (``S`` = most segments in a
        video of the batch); slots ``n >= N_b`` are padding (placed at the video's centre, no segment loss;
        their class scores are pushed to 0 like those of unmatched queries).
        """
        counts = [len(t['segments']) for t in targets]
        slots = max(counts, default=0)
        if slots == 0:
            return None
        batch = len(targets)
        reference = torch.full((batch, self.num_groups * slots, 2), 0.5, device=device)
        valid = torch.zeros(batch, self.num_groups * slots, dtype=torch.bool, device=device)
        for b, t in enumerate(targets):
            seg = t['segments'].reshape(-1, 2).to(device=device, dtype=torch.float32)
            for g in range(self.num_groups):
                reference[b, g * slots:g * slots + len(seg)] = noise_segments(seg, self.box_noise)
                valid[b, g * slots:g * slots + len(seg)] = True
        query_pos = self.pos_head(_sine(reference, self.d_model).to(self.content.dtype)).to(dtype)
        tgt = self.content.to(dtype).expand(batch, reference.shape[1], -1)
        mask = denoising_attention_mask(num_queries, self.num_groups, slots, device)
        return dict(tgt=tgt, query_pos=query_pos, reference=reference, attn_mask=mask, valid=valid, slots=slots)

    def losses(self, criterion, outputs: Mapping, targets: Sequence[Mapping[str, Tensor]],
               queries: Mapping) -> Dict[str, Tensor]:
        """``dn.<loss>``: each denoising query against the segment it was made from, at every decoder layer
        (no matching), x ``weight``. ``outputs`` hold the denoising queries only (no actionness)."""
        slots = queries['slots']
        # Target g * N_b + n is group g's copy of segment n.
        repeated = [{k: v.repeat(self.num_groups, *([1] * (v.dim() - 1))) if isinstance(v, Tensor) else v
                     for k, v in t.items()} for t in targets]
        indices = []
        for t in targets:
            n = len(t['segments'])
            query = torch.cat([torch.arange(n) + g * slots for g in range(self.num_groups)])
            target = torch.cat([torch.arange(n) + g * n for g in range(self.num_groups)])
            indices.append((query, target))
        num = criterion.num_segments(repeated, outputs['pred_segments'].device)
        losses: Dict[str, Tensor] = {}
        layers: List[Mapping] = [*outputs.get('aux_outputs', []), outputs]
        for i, layer in enumerate(layers):
            prefix = 'dn.' if i == len(layers) - 1 else f'dn.d{i}.'
            part = {k: v for k, v in layer.items() if k in ('pred_logits', 'pred_segments')}
            for key, value in criterion.layer_losses(part, repeated, indices, num).items():
                losses[prefix + key] = self.weight * value
        return losses
