"""Small MLP (used for segment-refinement heads) and the inverse sigmoid."""
from torch import Tensor, nn

from zeetad.registry import MODELS

__all__ = ['MLP', 'inverse_sigmoid']


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """``logit(x)`` with ``x`` clamped to ``[0, 1]`` and both odds terms to ``>= eps``."""
    x = x.clamp(0, 1)
    return (x.clamp(min=eps) / (1 - x).clamp(min=eps)).log()


@MODELS.register_module()
class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU between them: ``(..., in_dim) -> (..., out_dim)``.

    Args:
        in_dim: input channels.
        hidden_dim: channels of the hidden layers.
        out_dim: output channels.
        num_layers: number of linear layers (>= 1).
        zero_init_last: start the last layer at zero, so a refinement head
            predicts zero deltas (keeps the reference) at initialisation.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 3,
                 zero_init_last: bool = False) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.zero_init_last = zero_init_last
        self.init_weights()

    def init_weights(self) -> None:
        """PyTorch's default init, then zero the last layer if asked."""
        for layer in self.layers:
            layer.reset_parameters()
        if self.zero_init_last:
            nn.init.zeros_(self.layers[-1].weight)
            nn.init.zeros_(self.layers[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu()
        return x
