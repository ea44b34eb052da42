"""L2-SP: an L2 penalty toward the starting point of chosen parameters (Li et al., 2018)."""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from zeetad.registry import MODELS

__all__ = ['L2SPRegularizer']


@MODELS.register_module()
class L2SPRegularizer(nn.Module):
    """``weight * sum_i ||theta_i - theta_i(0)||^2`` over the trainable parameters whose names start with one of
    ``keys``, ``theta(0)`` their values when :meth:`capture` ran (the model's initialisation).

    For zero-shot transfer: the classifier's projection starts as CLIP's own matching (the identity on the
    pooled CLIP frames) and the text adapters as the identity, and the unseen class names depend on that prior;
    the penalty keeps the trained parts near it while they fit the seen names.

    The starting values are persistent buffers, so a resumed run keeps regularising toward the original
    initialisation (not toward the resumed weights).

    Args:
        keys: parameter-name prefixes within the model, e.g. ``'classifier.proj'``.
        weight: multiplier of the summed squared distance (0 keeps the buffers but returns 0).
    """

    def __init__(self, keys: Sequence[str] = ('classifier.proj', 'classifier.text_encoder.adapters'),
                 weight: float = 0.0) -> None:
        super().__init__()
        if isinstance(keys, str) or not keys:
            raise ValueError(f'model.init_reg.keys must be a non-empty list of parameter-name prefixes, got {keys!r}')
        if weight < 0:
            raise ValueError(f'model.init_reg.weight must be >= 0, got {weight!r}')
        self.keys = tuple(keys)
        self.weight = float(weight)
        self.names: List[str] = []

    @staticmethod
    def _buffer_name(name: str) -> str:
        return 'init__' + name.replace('.', '__')

    def _matching(self, model: nn.Module) -> List[Tuple[str, Tensor]]:
        return [(n, p) for n, p in model.named_parameters()
                if p.requires_grad and any(n == k or n.startswith(k + '.') for k in self.keys)]

    def capture(self, model: nn.Module) -> None:
        """Store the current values of the matching parameters of ``model`` as the anchor."""
        params = self._matching(model)
        if not params:
            raise ValueError(f'model.init_reg.keys {list(self.keys)} match no trainable parameter of the model')
        self.names = [n for n, _ in params]
        for name, p in params:
            self.register_buffer(self._buffer_name(name), p.detach().clone())

    def forward(self, model: nn.Module) -> Tensor:
        """The penalty, a scalar tensor (0 with the gradient graph of the parameters when they sit at init)."""
        params: Dict[str, Tensor] = dict(model.named_parameters())
        total = None
        for name in self.names:
            diff = (params[name].float() - getattr(self, self._buffer_name(name)).float()).pow(2).sum()
            total = diff if total is None else total + diff
        if total is None:
            raise RuntimeError('L2SPRegularizer.capture(model) was not called')
        return self.weight * total

    def extra_repr(self) -> str:
        return f'keys={list(self.keys)}, weight={self.weight}, num_tensors={len(self.names)}'
