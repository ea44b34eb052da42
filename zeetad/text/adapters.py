"""Bottleneck residual adapter used to tune a frozen text transformer."""
import torch
from torch import nn


class BottleneckAdapter(nn.Module):
    """``x + up(GELU(down(LN(x))))`` with a zero-initialised ``up``.

    The zero ``up`` makes the adapter an exact identity at initialisation, so
    training starts from the frozen model's own embeddings.

    Args:
        width: token width W of the transformer it is attached to.
        bottleneck: hidden width r (r << W keeps the trainable part small).
        norm: apply a LayerNorm before the down-projection.
    """

    def __init__(self, width: int, bottleneck: int = 64, norm: bool = True) -> None:
        super().__init__()
        if width <= 0 or bottleneck <= 0:
            raise ValueError(f'width and bottleneck must be positive, got {width}, {bottleneck}')
        self.norm = nn.LayerNorm(width) if norm else nn.Identity()
        self.down = nn.Linear(width, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., W) -> (..., W)``; any token layout (NLD or LND)."""
        return x + self.up(self.act(self.down(self.norm(x))))
