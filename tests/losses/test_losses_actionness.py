"""SetCriterion's actionness loss: L1 on the sigmoid vs BCE with logits, hand values and saturated gradients."""
import math

import pytest
import torch

from zeetad.models.losses import SetCriterion

# ground truth [0.3, 0.7] (centre 0.5, width 0.4); query 0 = [0.34, 0.66] (tIoU 0.8), query 1 misses (tIoU 0)
TARGETS = [dict(labels=torch.tensor([0]), segments=torch.tensor([[0.5, 0.4]]))]
SEGMENTS = torch.tensor([[[0.5, 0.32], [0.1, 0.1]]])
ONLY_ACTIONNESS = dict(loss_cls=0, loss_seg=0, loss_iou=0, loss_actionness=1.0)


def _loss(kind, logits, weights=ONLY_ACTIONNESS):
    logits = torch.tensor([logits], requires_grad=True)
    criterion = SetCriterion(loss_weights=weights, actionness_loss=kind) if kind else SetCriterion(loss_weights=weights)
    loss = criterion(dict(pred_segments=SEGMENTS, pred_actionness=logits), TARGETS)['loss_actionness']
    loss.backward()
    return loss.item(), logits.grad[0]


def _softplus(x):
    return math.log1p(math.exp(x))


def test_hand_computed_values():
    # BCE with logits = softplus(x) - t * x, mean over the 2 queries, weight 4 (the default)
    bce, _ = _loss('bce', [1.0, -2.0], weights=dict(loss_cls=0, loss_seg=0, loss_iou=0))
    expected = 4 * ((_softplus(1.0) - 0.8 * 1.0) + _softplus(-2.0)) / 2
    assert bce == pytest.approx(expected, rel=1e-5)
    l1, _ = _loss('l1', [1.0, -2.0], weights=dict(loss_cls=0, loss_seg=0, loss_iou=0))
    sig = 1 / (1 + math.exp(-1.0)), 1 / (1 + math.exp(2.0))
    assert l1 == pytest.approx(4 * (abs(sig[0] - 0.8) + sig[1]) / 2, rel=1e-5)


def test_bce_gradient_does_not_vanish_at_saturation():
    # the issue-13 collapse: a logit driven to -12 on a query whose target is 0.8
    _, grad = _loss('bce', [-12.0, -12.0])
    # d/dx mean(BCE) = (sigmoid(x) - t) / 2 queries
    assert grad[0].item() == pytest.approx((1 / (1 + math.exp(12)) - 0.8) / 2, rel=1e-5)
    assert grad[0].item() < -0.39  # ~ -0.8 per query: the head is pulled back up
    assert grad[1].item() == pytest.approx(1 / (1 + math.exp(12)) / 2, rel=1e-4)  # target 0: already right


def test_default_gradient_does_not_vanish_at_saturation():
    # the shipped default must pull a saturated head back (fails with the old default, L1)
    _, grad = _loss(None, [-12.0, -12.0])
    assert grad[0].item() < -0.39
    assert SetCriterion().actionness_loss == 'bce'


def test_l1_gradient_vanishes_at_saturation():
    # the defect, kept for reference: sign(p - t) * sigmoid'(x) / 2 ~ 3e-6, the head cannot recover
    _, grad = _loss('l1', [-12.0, -12.0])
    assert abs(grad[0].item()) < 1e-4
    s = 1 / (1 + math.exp(12))
    assert grad[0].item() == pytest.approx(-s * (1 - s) / 2, rel=1e-4)


def test_unknown_actionness_loss_names_the_key():
    with pytest.raises(ValueError, match='actionness_loss'):
        SetCriterion(actionness_loss='mse')
