"""Actionness: how well a query's segment covers an action, from the encoder features inside it."""
from __future__ import annotations

import torch
from torch import nn

from zeetad.registry import MODELS
from .segment_pooling import sample_in_segments


@MODELS.register_module()
class ActionnessHead(nn.Module):
    """Samples ``num_points`` encoder features inside each segment (1-D RoIAlign) and predicts a logit whose
    sigmoid regresses the segment's best tIoU with the ground truth of its own video.

    Segments are detached: actionness rates the proposal, it does not move it.
    """

    def __init__(self, in_dim: int, num_points: int = 16, hidden_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.num_points = num_points
        self.mlp = nn.Sequential(nn.Linear(in_dim * num_points, hidden_dim), nn.ReLU(inplace=True),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, 1))

    def forward(self, memory: torch.Tensor, segments: torch.Tensor, valid_len: torch.Tensor) -> torch.Tensor:
        """``memory (B, T, C)``, ``segments (B, Q, 2)`` start/end in [0, 1] -> logits ``(B, Q)``."""
        samples = sample_in_segments(memory, segments.detach(), valid_len, self.num_points)
        return self.mlp(samples.flatten(2)).squeeze(-1)
