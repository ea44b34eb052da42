"""Actionness: how well a query's segment covers an action, from the encoder features around it."""
from __future__ import annotations

import torch
from torch import nn

from zeetad.registry import MODELS
from zeetad.structures.segments import segment_cw_to_t1t2, segment_t1t2_to_cw
from .segment_pooling import sample_in_segments


def expand_segments(segments: torch.Tensor, ratio: float) -> torch.Tensor:
    """Scale ``segments (..., 2)`` start/end in [0, 1] by ``ratio`` about their centres, clipped to [0, 1]."""
    cw = segment_t1t2_to_cw(segments)
    return segment_cw_to_t1t2(torch.stack((cw[..., 0], cw[..., 1] * ratio), -1)).clamp(0.0, 1.0)


@MODELS.register_module()
class ActionnessHead(nn.Module):
    """Samples ``num_points`` encoder features inside each segment expanded ``roi_expand`` times about its
    centre (1-D RoIAlign; TadTR pools over 1.5x the segment, so the head also sees the context around the
    boundaries) and predicts a logit whose sigmoid regresses the segment's best tIoU with the ground truth
    of its own video.

    Segments are detached: actionness rates the proposal, it does not move it.
    """

    def __init__(self, in_dim: int, num_points: int = 16, hidden_dim: int = 256, dropout: float = 0.1,
                 roi_expand: float = 1.5):
        super().__init__()
        if roi_expand <= 0:
            raise ValueError(f'actionness.roi_expand must be > 0, got {roi_expand}')
        self.num_points, self.roi_expand = num_points, roi_expand
        self.mlp = nn.Sequential(nn.Linear(in_dim * num_points, hidden_dim), nn.ReLU(inplace=True),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, 1))

    def forward(self, memory: torch.Tensor, segments: torch.Tensor, valid_len: torch.Tensor) -> torch.Tensor:
        """``memory (B, T, C)``, ``segments (B, Q, 2)`` start/end in [0, 1] of the valid length -> logits ``(B, Q)``."""
        rois = expand_segments(segments.detach(), self.roi_expand)
        samples = sample_in_segments(memory, rois, valid_len, self.num_points)
        return self.mlp(samples.flatten(2)).squeeze(-1)
