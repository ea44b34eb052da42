"""Sigmoid focal loss (Lin et al., 2017) for multi-label / one-vs-all classification."""
from typing import Optional

import torch.nn.functional as F
from torch import Tensor

__all__ = ['sigmoid_focal_loss']


def sigmoid_focal_loss(logits: Tensor,
                       targets: Tensor,
                       alpha: Optional[float] = 0.25,
                       gamma: float = 2.0,
                       reduction: str = 'none') -> Tensor:
    """Element-wise sigmoid focal loss.

    ``loss = -alpha_t * (1 - p_t) ** gamma * log(p_t)`` with ``p = sigmoid(logits)``,
    ``p_t = p`` for positives and ``1 - p`` for negatives, and ``alpha_t = alpha``
    for positives and ``1 - alpha`` for negatives.

    Args:
        logits: raw scores of any shape, e.g. ``(B, Q, K)``.
        targets: same shape, in [0, 1] (one-hot or soft labels).
        alpha: positive/negative balance; ``None`` or a negative value disables it.
        gamma: focusing exponent (0 gives plain binary cross-entropy).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss with ``logits``' shape for ``'none'``, else a scalar.
    """
    if logits.shape != targets.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape')
    targets = targets.to(logits.dtype)
    prob = logits.sigmoid()
    # BCE-with-logits is the numerically stable -log(p_t).
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t).pow(gamma)
    if alpha is not None and alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == 'none':
        return loss
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
