"""SetCriterion's actionness loss: binary cross-entropy with logits against the soft tIoU target."""
import math

import pytest
import torch

from zeetad.models.losses import SetCriterion

# ground truth [0.3, 0.7] (centre 0.5, width 0.4); query 0 = [0.34, 0.66] (tIoU 0.8), query 1 misses (tIoU 0)
TARGETS = [dict(labels=torch.tensor([0]), segments=torch.tensor([[0.5, 0.4]]))]
SEGMENTS = torch.tensor([[[0.5, 0.32], [0.1, 0.1]]])
ONLY_ACTIONNESS = dict(loss_cls=0, loss_seg=0, loss_iou=0, loss_actionness=1.0)


def _loss(logits, weights=ONLY_ACTIONNESS):
    logits = torch.tensor([logits], requires_grad=True)
    loss = SetCriterion(loss_weights=weights)(dict(pred_segments=SEGMENTS, pred_actionness=logits),
                                              TARGETS)['loss_actionness']
    loss.backward()
    return loss.item(), logits.grad[0]


def _softplus(x):
    return math.log1p(math.exp(x))


def test_hand_computed_value():
    # BCE with logits = softplus(x) - t * x, mean over the 2 queries, weight 4 (the default)
    bce, _ = _loss([1.0, -2.0], weights=dict(loss_cls=0, loss_seg=0, loss_iou=0))
    assert bce == pytest.approx(4 * ((_softplus(1.0) - 0.8 * 1.0) + _softplus(-2.0)) / 2, rel=1e-5)


def test_gradient_does_not_vanish_at_saturation():
    # a head driven to a logit of -12 on a query whose target is 0.8 is pulled back up (L1 on the sigmoid
    # would give it ~3e-6: docs/ablations.md)
    _, grad = _loss([-12.0, -12.0])
    # d/dx mean(BCE) = (sigmoid(x) - t) / 2 queries
    assert grad[0].item() == pytest.approx((1 / (1 + math.exp(12)) - 0.8) / 2, rel=1e-5)
    assert grad[0].item() < -0.39
    assert grad[1].item() == pytest.approx(1 / (1 + math.exp(12)) / 2, rel=1e-4)  # target 0: already right
