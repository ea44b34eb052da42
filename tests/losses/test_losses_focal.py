"""Sigmoid focal loss against the closed-form formula."""
import math

import pytest
import torch
import torch.nn.functional as F

from zeetad.models.losses import sigmoid_focal_loss


def _hand(x: float, t: float, alpha, gamma: float) -> float:
    p = 1 / (1 + math.exp(-x))
    a_pos, a_neg = (alpha, 1 - alpha) if alpha is not None else (1.0, 1.0)
    return -a_pos * t * (1 - p)**gamma * math.log(p) - a_neg * (1 - t) * p**gamma * math.log(1 - p)


@pytest.mark.parametrize('alpha,gamma', [(0.25, 2.0), (0.5, 1.0), (None, 2.0), (0.25, 0.0)])
def test_matches_hand_formula(alpha, gamma):
    logits = torch.tensor([[-3.0, -0.5, 0.0], [0.7, 2.0, 4.0]], dtype=torch.float64)
    targets = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    loss = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma)
    expected = torch.tensor([[_hand(x, t, alpha, gamma) for x, t in zip(rx, rt)]
                             for rx, rt in zip(logits.tolist(), targets.tolist())], dtype=torch.float64)
    assert loss.shape == logits.shape
    assert torch.allclose(loss, expected, rtol=1e-10, atol=1e-12)
    assert torch.allclose(sigmoid_focal_loss(logits, targets, alpha, gamma, 'sum'), expected.sum(), rtol=1e-10)
    assert torch.allclose(sigmoid_focal_loss(logits, targets, alpha, gamma, 'mean'), expected.mean(), rtol=1e-10)


def test_single_value_by_hand():
    # x = 0 -> p = 0.5; positive: 0.25 * 0.5**2 * ln 2.
    loss = sigmoid_focal_loss(torch.tensor([0.0]), torch.tensor([1.0]))
    assert loss.item() == pytest.approx(0.25 * 0.25 * math.log(2), rel=1e-6)


def test_gamma_zero_no_alpha_is_bce():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 5, generator=g)
    targets = (torch.rand(4, 5, generator=g) > 0.5).float()
    assert torch.allclose(sigmoid_focal_loss(logits, targets, alpha=-1, gamma=0.0),
                          F.binary_cross_entropy_with_logits(logits, targets, reduction='none'), atol=1e-7)


def test_stable_for_extreme_logits_and_bad_args():
    logits = torch.tensor([-200.0, 200.0, -200.0, 200.0], requires_grad=True)
    targets = torch.tensor([1.0, 0.0, 0.0, 1.0])
    loss = sigmoid_focal_loss(logits, targets, reduction='sum')
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert loss.item() == pytest.approx(0.25 * 200 + 0.75 * 200, rel=1e-6)
    with pytest.raises(ValueError):
        sigmoid_focal_loss(logits, targets, reduction='avg')
    with pytest.raises(ValueError):
        sigmoid_focal_loss(logits, targets[:2])
