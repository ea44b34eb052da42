"""Dual localization: one transformer both finds segments and gathers what is needed to name them."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from zeetad.registry import MODELS
from ..heads.segment_pooling import pool_in_segments
from ..layers import MaskedConvNorm1d, strided_mask
from zeetad.structures.segments import segment_cw_to_t1t2


@MODELS.register_module()
class DualLocalizer(nn.Module):
    """Projects both streams, runs the deformable encoder-decoder and returns, for every decoder layer,
    segments and the *semantic embedding* of each query: its decoder state concatenated with the CLIP frame
    features pooled inside its predicted segment through a soft (differentiable) mask.

    Padding-invariant: a window gives the same outputs alone or padded inside a batch (the convs never read
    padded steps, GroupNorm statistics cover valid steps only, everything after is masked or normalised by
    each window's valid length).

    Args:
        loc_dim: localisation feature size (I3D 2048, TSP 512, ...).
        clip_dim: CLIP frame feature size, or ``None`` when the model has no CLIP stream.
        d_model: transformer width.
        transformer: config of :class:`DeformableTransformer1D`; ``d_model`` and ``num_levels`` are filled in.
        actionness: config of :class:`ActionnessHead` (``in_dim`` filled in) or ``None``.
        num_levels: feature pyramid levels (extra levels by stride-2 convolutions).
        fuse_clip: also add the projected CLIP stream to the localisation input.
        pool_sharpness: edge width, in steps, of the soft segment mask.
        proj_kernel: kernel size of the two input projections (odd; 1 is TadTR's pointwise projection, 3 also
            mixes each step with its neighbours at 3x the cost of the model's largest matrix product).
        detach_semantics: cut the gradient from classification into localisation (two-stage baseline).
    """

    def __init__(self, loc_dim: int, clip_dim: Optional[int], transformer: dict, actionness: Optional[dict] = None,
                 d_model: int = 256, num_levels: int = 1, fuse_clip: bool = True, pool_sharpness: float = 0.5,
                 detach_semantics: bool = False, proj_kernel: int = 3):
        super().__init__()
        self.clip_dim, self.num_levels, self.pool_sharpness = clip_dim, num_levels, pool_sharpness
        self.detach_semantics = detach_semantics
        if proj_kernel < 1 or proj_kernel % 2 == 0:
            raise ValueError(f'model.localizer.proj_kernel must be a positive odd number, got {proj_kernel}')
        self.loc_proj = MaskedConvNorm1d(loc_dim, d_model, kernel_size=proj_kernel)
        self.clip_proj = MaskedConvNorm1d(clip_dim, d_model, kernel_size=proj_kernel) if (fuse_clip and clip_dim) \
            else None
        # Each extra level: ReLU, then a stride-2 conv + GroupNorm.
        self.downsample = nn.ModuleList(MaskedConvNorm1d(d_model, d_model, stride=2) for _ in range(num_levels - 1))
        self.transformer = MODELS.build(dict(transformer, d_model=d_model, num_levels=num_levels))
        self.actionness = MODELS.build(dict(actionness, in_dim=d_model)) if actionness else None
        self.semantic_dim = d_model + (clip_dim or 0)

    def _pyramid(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[list, list]:
        feats, masks = [x], [mask]
        for down in self.downsample:
            x = down(x.relu(), mask)  # zero at the new level's padded steps
            mask = strided_mask(mask, down.stride, x.shape[-1])
            feats.append(x)
            masks.append(mask)
        return feats, masks

    def forward(self, loc: torch.Tensor, clip: Optional[torch.Tensor], mask: torch.Tensor,
                last_only: bool = False, extra_queries: Optional[dict] = None) -> dict:
        """``loc (B, T, C)``, ``clip (B, T, D)``, ``mask (B, T)`` (True = padding) -> dict of

        ``segments (M, B, Q, 2)`` start/end in [0, 1] of the valid length, ``semantics (M, B, Q, C + D)``,
        ``actionness (B, Q)`` logits of the last layer (or None), ``valid_len (B,)``.
        ``last_only`` (inference): semantics of the last decoder layer only, ``(1, B, Q, C + D)``.
        ``extra_queries``: appended decoder queries (training-only denoising), see the transformer.
        """
        valid_len = (~mask).sum(1).to(loc.dtype)
        if clip is not None:  # pooled below with zero weight there, but 0 * inf would still be NaN
            clip = clip.masked_fill(mask[..., None], 0.0)
        x = self.loc_proj(loc.transpose(1, 2), mask)  # zero at padded steps
        if self.clip_proj is not None and clip is not None:
            x = x + self.clip_proj(clip.transpose(1, 2), mask)
        feats, masks = self._pyramid(x, mask)
        out = self.transformer(feats, masks, extra_queries=extra_queries)
        segments = segment_cw_to_t1t2(out['segments']).clamp(0.0, 1.0)  # (M, B, Q, 2)
        hidden = out['hidden_states']  # (M, B, Q, C)
        layers = segments[-1:] if last_only else segments
        semantics = hidden[-1:] if last_only else hidden
        if self.clip_dim and clip is not None:
            # Every layer's segments pooled in one call: (M, B, Q, 2) -> (B, M * Q, 2) -> (M, B, Q, D).
            M, B, Q = layers.shape[:3]
            flat = layers.permute(1, 0, 2, 3).reshape(B, M * Q, 2)
            pooled = pool_in_segments(clip, flat, valid_len, self.pool_sharpness)
            semantics = torch.cat((semantics, pooled.view(B, M, Q, -1).transpose(0, 1)), dim=-1)
        if self.detach_semantics:
            semantics = semantics.detach()
        actionness = None
        if self.actionness is not None:
            level0 = out['memory'][:, :loc.shape[1]]
            # Unclipped segments, as TadTR expands the RoI before clipping it to the window.
            actionness = self.actionness(level0, segment_cw_to_t1t2(out['segments'][-1]), valid_len)
        return dict(segments=segments, segments_cw=out['segments'], semantics=semantics,
                    actionness=actionness, valid_len=valid_len)
