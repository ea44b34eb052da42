"""Hungarian matcher: hand-made assignments, brute-force optimality, edge cases."""
import itertools
import math

import pytest
import torch

from zeetad.models.losses import HungarianMatcher, focal_class_cost
from zeetad.structures.segments import segment_cw_to_t1t2, segment_iou
from zeetad.registry import MODELS


def _tgt(labels, segments):
    return dict(labels=torch.tensor(labels, dtype=torch.long), segments=torch.tensor(segments, dtype=torch.float))


def test_obvious_assignment_by_location():
    segs = torch.tensor([[[0.1, 0.1], [0.5, 0.2], [0.8, 0.1], [0.3, 0.05]]])
    logits = torch.zeros(1, 4, 3)
    matcher = HungarianMatcher()
    (q, t), = matcher(logits, segs, [_tgt([2, 0], [[0.8, 0.1], [0.1, 0.1]])])
    assert q.dtype == torch.int64 and t.dtype == torch.int64
    assert q.tolist() == [0, 2] and t.tolist() == [1, 0]


def test_class_cost_breaks_tie_between_identical_segments():
    segs = torch.tensor([[[0.5, 0.2], [0.5, 0.2]]])
    logits = torch.tensor([[[4.0, -4.0], [-4.0, 4.0]]])
    matcher = HungarianMatcher()
    (q, t), = matcher(logits, segs, [_tgt([1, 0], [[0.5, 0.2], [0.5, 0.2]])])
    # query 0 predicts class 0 = target 1; query 1 predicts class 1 = target 0.
    assert dict(zip(q.tolist(), t.tolist())) == {0: 1, 1: 0}


def test_focal_class_cost_hand_formula():
    logits = torch.tensor([[0.3, -1.2, 2.0]])
    labels = torch.tensor([2, 0])
    cost = focal_class_cost(logits, labels, alpha=0.25, gamma=2.0)
    for n, k in enumerate(labels.tolist()):
        p = 1 / (1 + math.exp(-logits[0, k].item()))
        pos = 0.25 * (1 - p)**2 * -math.log(p)
        neg = 0.75 * p**2 * -math.log(1 - p)
        assert cost[0, n].item() == pytest.approx(pos - neg, rel=1e-5)


def test_cost_matrix_hand_values():
    matcher = HungarianMatcher(cost_class=0, cost_seg=5, cost_iou=2)
    pred = torch.tensor([[0.5, 0.2], [0.2, 0.2]])
    gt = torch.tensor([[0.5, 0.4]])
    cost = matcher.cost_matrix(None, pred, None, gt)
    # q0: L1 0.2, iou 0.5; q1: L1 0.5, iou [0.1,0.3]&[0.3,0.7] = 0.
    assert torch.allclose(cost, torch.tensor([[5 * 0.2 - 2 * 0.5], [5 * 0.5]]), atol=1e-6)


def _brute_force_min(cost: torch.Tensor) -> float:
    q, n = cost.shape
    best = math.inf
    if q >= n:
        for perm in itertools.permutations(range(q), n):
            best = min(best, sum(cost[perm[j], j].item() for j in range(n)))
    else:
        for perm in itertools.permutations(range(n), q):
            best = min(best, sum(cost[i, perm[i]].item() for i in range(q)))
    return best


@pytest.mark.parametrize('seed', range(12))
def test_equals_brute_force_on_tiny_random_cases(seed):
    g = torch.Generator().manual_seed(seed)
    batch, num_queries, num_classes = 2, 5, 3
    logits = torch.randn(batch, num_queries, num_classes, generator=g) * 2
    segs = torch.rand(batch, num_queries, 2, generator=g) * 0.6 + 0.2
    targets = []
    for _ in range(batch):
        n = int(torch.randint(0, 7, (1, ), generator=g))  # sometimes more targets than queries
        targets.append(
            dict(labels=torch.randint(0, num_classes, (n, ), generator=g),
                 segments=torch.rand(n, 2, generator=g) * 0.6 + 0.2))
    matcher = HungarianMatcher()
    indices = matcher(logits, segs, targets)
    for b, (q, t) in enumerate(indices):
        n = len(targets[b]['labels'])
        assert len(q) == len(t) == min(num_queries, n)
        assert len(set(q.tolist())) == len(q) and len(set(t.tolist())) == len(t)
        assert q.tolist() == sorted(q.tolist())
        if n == 0:
            continue
        cost = matcher.cost_matrix(logits[b], segs[b], targets[b]['labels'], targets[b]['segments'])
        assert cost[q, t].sum().item() == pytest.approx(_brute_force_min(cost), abs=1e-5)


def test_zero_targets_and_class_agnostic():
    segs = torch.tensor([[[0.2, 0.1], [0.7, 0.2]], [[0.3, 0.1], [0.6, 0.3]]])
    targets = [_tgt([], torch.zeros(0, 2).tolist()), _tgt([0], [[0.6, 0.3]])]
    for logits, matcher in [(None, HungarianMatcher()), (torch.randn(2, 2, 4), HungarianMatcher(cost_class=0))]:
        (q0, t0), (q1, t1) = matcher(logits, segs, targets)
        assert q0.numel() == 0 and t0.numel() == 0
        assert q1.tolist() == [1] and t1.tolist() == [0]
    # class-agnostic targets need no labels at all
    (q, _), = HungarianMatcher()(None, segs[1:], [dict(segments=torch.tensor([[0.3, 0.1]]))])
    assert q.tolist() == [0]


def test_giou_cost_and_errors():
    matcher = HungarianMatcher(cost_class=0, cost_seg=0, cost_iou=1, iou_type='giou')
    pred = torch.tensor([[0.1, 0.1], [0.5, 0.1]])
    gt = torch.tensor([[0.8, 0.1]])
    # disjoint: giou prefers the nearer query even though both ious are 0
    assert segment_iou(segment_cw_to_t1t2(pred), segment_cw_to_t1t2(gt)).sum() == 0
    (q, _), = matcher(None, pred[None], [dict(segments=gt)])
    assert q.tolist() == [1]
    with pytest.raises(ValueError):
        HungarianMatcher(cost_class=0, cost_seg=0, cost_iou=0)
    with pytest.raises(ValueError):
        HungarianMatcher(iou_type='diou')
    with pytest.raises(ValueError):
        HungarianMatcher()(None, torch.full((1, 2, 2), float('nan')), [dict(segments=gt)])
    with pytest.raises(ValueError):
        HungarianMatcher()(None, pred[None], [])


def test_build_from_registry():
    matcher = MODELS.build(dict(type='HungarianMatcher', cost_class=1, cost_seg=2, cost_iou=3, focal_alpha=0.5))
    assert isinstance(matcher, HungarianMatcher)
    assert (matcher.cost_class, matcher.cost_seg, matcher.cost_iou, matcher.focal_alpha) == (1, 2, 3, 0.5)
