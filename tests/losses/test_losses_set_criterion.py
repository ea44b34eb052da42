"""SetCriterion: hand values, perfect predictions, own-video actionness, aux layers, gradients."""
import math

import pytest
import torch
from mmengine import dist

from zeetad.models.losses import HungarianMatcher, SetCriterion, actionness_targets
from zeetad.structures.segments import segment_cw_to_t1t2, segment_iou
from zeetad.registry import MODELS


def _tgt(labels, segments):
    return dict(labels=torch.tensor(labels, dtype=torch.long),
                segments=torch.tensor(segments, dtype=torch.float).reshape(-1, 2))


def _batch(seed=0, batch=2, queries=6, classes=4, aux=2):
    g = torch.Generator().manual_seed(seed)

    def layer():
        return dict(pred_logits=torch.randn(batch, queries, classes, generator=g).requires_grad_(),
                    pred_segments=(torch.rand(batch, queries, 2, generator=g) * 0.5 + 0.2).requires_grad_(),
                    pred_actionness=torch.randn(batch, queries, generator=g).requires_grad_())

    outputs = layer()
    outputs['aux_outputs'] = [layer() for _ in range(aux)]
    targets = [_tgt([1, classes - 1], [[0.3, 0.2], [0.7, 0.1]]), _tgt([0], [[0.5, 0.4]])][:batch]
    return outputs, targets


def test_hand_computed_values():
    outputs = dict(pred_logits=torch.zeros(1, 2, 2), pred_segments=torch.tensor([[[0.5, 0.2], [0.1, 0.1]]]),
                   pred_actionness=torch.zeros(1, 2))
    losses = SetCriterion()(outputs, [_tgt([1], [[0.5, 0.4]])])
    assert set(losses) == {'loss_cls', 'loss_seg', 'loss_iou', 'loss_actionness'}
    # focal at p=0.5: positive 0.25*0.25*ln2, three negatives 0.75*0.25*ln2 each; weight 2, one segment.
    assert losses['loss_cls'].item() == pytest.approx(2 * 0.625 * math.log(2), rel=1e-6)
    assert losses['loss_seg'].item() == pytest.approx(5 * 0.2, rel=1e-6)  # |0.2 - 0.4|
    assert losses['loss_iou'].item() == pytest.approx(2 * (1 - 0.5), rel=1e-6)  # [0.4,0.6] in [0.3,0.7]
    # actionness targets (0.5, 0), logits 0: BCE with logits = softplus(0) - t * 0 = ln 2 each, weight 4.
    assert losses['loss_actionness'].item() == pytest.approx(4 * math.log(2), rel=1e-6)


def test_perfect_predictions_give_zero_localisation_loss():
    targets = [_tgt([1, 3], [[0.3, 0.2], [0.7, 0.1]]), _tgt([0], [[0.5, 0.4]])]
    segs = torch.tensor([[[0.1, 0.05], [0.7, 0.1], [0.3, 0.2]], [[0.5, 0.4], [0.9, 0.05], [0.1, 0.05]]])
    logits = torch.full((2, 3, 4), -30.0)
    logits[0, 2, 1] = logits[0, 1, 3] = logits[1, 0, 0] = 30.0
    losses = SetCriterion()(dict(pred_logits=logits, pred_segments=segs), targets)
    assert losses['loss_seg'].item() == pytest.approx(0, abs=1e-6)
    assert losses['loss_iou'].item() == pytest.approx(0, abs=1e-6)
    assert losses['loss_cls'].item() == pytest.approx(0, abs=1e-6)


def test_loss_decreases_toward_targets():
    targets = [_tgt([0, 1], [[0.3, 0.2], [0.7, 0.1]])]
    # each start contains its target, so tIoU = len(target) / len(pred) rises along the path
    start = torch.tensor([[[0.35, 0.3], [0.65, 0.2]]])
    end = torch.tensor([[[0.3, 0.2], [0.7, 0.1]]])
    criterion = SetCriterion(loss_weights=dict(loss_cls=0))
    seg_losses, iou_losses = [], []
    for t in torch.linspace(0, 1, 6):
        losses = criterion(dict(pred_segments=(1 - t) * start + t * end), targets)
        seg_losses.append(losses['loss_seg'].item())
        iou_losses.append(losses['loss_iou'].item())
    assert all(a > b for a, b in zip(seg_losses, seg_losses[1:]))
    assert all(a > b for a, b in zip(iou_losses, iou_losses[1:]))
    assert seg_losses[-1] == pytest.approx(0, abs=1e-6) and iou_losses[-1] == pytest.approx(0, abs=1e-6)


def test_actionness_target_uses_only_own_video():
    targets = [_tgt([0], [[0.5, 0.2]]), _tgt([0], [[0.2, 0.1]])]
    # video 1's query 0 sits exactly on video 0's action and misses its own.
    segs = torch.tensor([[[0.5, 0.2], [0.9, 0.1]], [[0.5, 0.2], [0.2, 0.1]]])
    ours = actionness_targets(segs, targets)
    all_gt = segment_cw_to_t1t2(torch.cat([t['segments'] for t in targets]))
    tadtr = segment_iou(segment_cw_to_t1t2(segs.reshape(-1, 2)), all_gt).max(1).values.reshape(2, 2)
    assert tadtr[1, 0].item() == pytest.approx(1.0)  # the batch-wide max would call it a perfect hit
    assert torch.allclose(ours, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), atol=1e-6)
    actionness = torch.full((2, 2), 2.0)  # BCE with logits = softplus(2) - 2 t per query
    losses = SetCriterion(loss_weights=dict(loss_cls=0, loss_seg=0, loss_iou=0))(
        dict(pred_segments=segs, pred_actionness=actionness), targets)
    assert set(losses) == {'loss_actionness'}
    softplus = math.log1p(math.exp(2.0))
    assert losses['loss_actionness'].item() == pytest.approx(4 * (softplus - 1.0), rel=1e-6)  # mean target 0.5
    tadtr_loss = 4 * (softplus - 2 * tadtr.mean().item())
    assert abs(tadtr_loss - losses['loss_actionness'].item()) > 0.5  # the batch-wide targets would differ


def test_zero_target_samples():
    outputs, _ = _batch(batch=2)
    targets = [_tgt([], []), _tgt([2], [[0.4, 0.2]])]
    losses = SetCriterion()(outputs, targets)
    assert all(torch.isfinite(v) for v in losses.values())
    assert actionness_targets(outputs['pred_segments'], targets)[0].abs().sum() == 0
    # a batch without any ground truth: only "no object" classification and actionness remain
    empty = [_tgt([], []), _tgt([], [])]
    losses = SetCriterion()(outputs, empty)
    assert losses['loss_seg'].item() == 0 and losses['loss_iou'].item() == 0
    assert losses['loss_cls'].item() > 0 and losses['loss_actionness'].item() > 0
    sum(losses.values()).backward()
    assert torch.isfinite(outputs['pred_logits'].grad).all()


def test_aux_losses_names_and_toggle():
    outputs, targets = _batch(aux=3)
    del outputs['aux_outputs'][1]['pred_actionness']  # actionness is optional in aux layers
    losses = SetCriterion()(outputs, targets)
    names = {'loss_cls', 'loss_seg', 'loss_iou', 'loss_actionness'}
    expected = names | {f'd{i}.{n}' for i in range(3) for n in names} - {'d1.loss_actionness'}
    assert set(losses) == expected
    assert set(SetCriterion(aux_loss=False)(outputs, targets)) == names
    # an aux layer's losses equal the final-layer losses computed on that layer alone
    alone = SetCriterion(aux_loss=False)(outputs['aux_outputs'][2], targets)
    for n in names:
        assert torch.allclose(losses[f'd2.{n}'], alone[n])


def test_gradients_flow_to_every_prediction():
    outputs, targets = _batch()
    sum(SetCriterion()(outputs, targets).values()).backward()
    layers = [outputs] + outputs['aux_outputs']
    for layer in layers:
        for key in ('pred_logits', 'pred_segments', 'pred_actionness'):
            grad = layer[key].grad
            assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, key


def test_num_classes_from_logits_and_label_check():
    criterion = SetCriterion()
    for classes in (3, 7):
        outputs, targets = _batch(classes=classes)
        assert torch.isfinite(criterion(outputs, targets)['loss_cls'])
    outputs, targets = _batch(classes=3)
    targets[0]['labels'][0] = 3  # K = 3 -> valid labels are 0..2
    with pytest.raises(ValueError, match='labels'):
        criterion(outputs, targets)


def test_match_reuse_and_weights():
    outputs, targets = _batch(aux=0)
    criterion = SetCriterion()
    indices = criterion.match(outputs, targets)
    assert len(indices) == 2 and [len(q) for q, _ in indices] == [2, 1]
    ref = criterion(outputs, targets)
    reused = criterion(outputs, targets, indices=indices)
    assert all(torch.equal(ref[k], reused[k]) for k in ref)
    doubled = SetCriterion(loss_weights=dict(loss_cls=4, loss_seg=10, loss_iou=4, loss_actionness=8))(outputs, targets)
    assert all(torch.allclose(doubled[k], 2 * ref[k]) for k in ref)
    with pytest.raises(KeyError):
        SetCriterion(loss_weights=dict(loss_giou=1))


def test_class_agnostic_and_giou_and_registry():
    outputs, targets = _batch(aux=1)
    del outputs['pred_logits']
    outputs['aux_outputs'][0]['pred_logits'] = None
    criterion = MODELS.build(
        dict(type='SetCriterion', matcher=dict(type='HungarianMatcher', cost_class=0), iou_type='giou'))
    assert isinstance(criterion.matcher, HungarianMatcher)
    losses = criterion(outputs, targets)
    assert 'loss_cls' not in losses and 'd0.loss_cls' not in losses and 'loss_iou' in losses


def test_normalisation_by_segment_count_and_across_ranks(monkeypatch):
    outputs, targets = _batch(aux=0)  # 3 segments on this rank
    local = SetCriterion()(outputs, targets)

    def fake_all_reduce(data, op='sum', group=None):
        assert op == 'mean'
        data.copy_((data + 9.0) / 2)  # the other rank holds 9 segments -> mean 6

    monkeypatch.setattr(dist, 'is_distributed', lambda: True)
    monkeypatch.setattr(dist, 'all_reduce', fake_all_reduce)
    reduced = SetCriterion()(outputs, targets)
    for k in ('loss_cls', 'loss_seg', 'loss_iou'):
        assert reduced[k].item() == pytest.approx(local[k].item() * 3 / 6, rel=1e-6)
    # actionness is a mean over queries, independent of the segment count
    assert reduced['loss_actionness'].item() == pytest.approx(local['loss_actionness'].item(), rel=1e-6)


def test_optimising_free_predictions_fits_targets():
    torch.manual_seed(0)
    targets = [_tgt([0, 2], [[0.25, 0.1], [0.7, 0.3]])]
    logits = torch.zeros(1, 5, 3, requires_grad=True)
    raw_segs = torch.randn(1, 5, 2, requires_grad=True)
    actionness = torch.zeros(1, 5, requires_grad=True)
    opt = torch.optim.Adam([logits, raw_segs, actionness], lr=0.05)
    criterion = SetCriterion()
    first = None
    for _ in range(150):
        losses = criterion(dict(pred_logits=logits, pred_segments=raw_segs.sigmoid(), pred_actionness=actionness),
                           targets)
        total = sum(losses.values())
        first = first if first is not None else total.item()
        opt.zero_grad()
        total.backward()
        opt.step()
    # BCE's actionness minimum is the entropy of the soft targets, not 0: check it by its fit instead
    rest = total.item() - losses['loss_actionness'].item()
    assert rest < 0.1 * first
    target = actionness_targets(raw_segs.sigmoid().detach(), targets)
    assert torch.allclose(actionness.sigmoid(), target, atol=0.05)
    (q, t), = criterion.match(dict(pred_logits=logits, pred_segments=raw_segs.sigmoid()), targets)
    assert torch.allclose(raw_segs.sigmoid()[0, q], targets[0]['segments'][t], atol=0.02)
