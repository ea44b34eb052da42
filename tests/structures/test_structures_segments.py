"""Segment format conversion and (generalised) tIoU."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zeetad.structures.segments import (generalized_segment_iou, paired_tiou, segment_cw_to_t1t2, segment_iou,
                                        segment_length, segment_t1t2_to_cw)


def test_cw_t1t2_hand_values_and_round_trip():
    cw = torch.tensor([[0.5, 0.2], [0.1, 0.0], [0.9, 0.4]])
    t1t2 = segment_cw_to_t1t2(cw)
    assert torch.allclose(t1t2, torch.tensor([[0.4, 0.6], [0.1, 0.1], [0.7, 1.1]]), atol=1e-7)
    assert torch.allclose(segment_t1t2_to_cw(t1t2), cw, atol=1e-7)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 5, 2, generator=g, dtype=torch.float64)
    assert torch.allclose(segment_cw_to_t1t2(segment_t1t2_to_cw(x)), x, atol=1e-12)
    assert torch.allclose(segment_t1t2_to_cw(segment_cw_to_t1t2(x)), x, atol=1e-12)


def test_segment_iou_hand_values_including_degenerate():
    a = torch.tensor([[0., 2.], [1., 3.], [5., 5.], [3., 1.], [0., 3.]])
    b = torch.tensor([[1., 2.], [5., 5.], [0., 10.], [2., 6.]])
    expected = torch.tensor([
        [0.5, 0.0, 0.2, 0.0],
        [0.5, 0.0, 0.2, 0.2],  # [1,3]&[2,6]: inter 1, union 5
        [0.0, 0.0, 0.0, 0.0],  # zero length: union with itself is 0 -> 0, not NaN
        [0.0, 0.0, 0.0, 0.0],  # reversed segment counts as length 0
        [1 / 3, 0.0, 0.3, 1 / 6],
    ])
    iou = segment_iou(a, b)
    assert iou.shape == (5, 4)
    assert torch.allclose(iou, expected, atol=1e-7)
    assert torch.allclose(segment_iou(b, a), expected.T, atol=1e-7)
    assert segment_length(a).tolist() == [2., 2., 0., 0., 3.]


def test_segment_iou_aligned_matches_diagonal():
    g = torch.Generator().manual_seed(1)
    a = segment_cw_to_t1t2(torch.rand(7, 2, generator=g))
    b = segment_cw_to_t1t2(torch.rand(7, 2, generator=g))
    assert torch.allclose(segment_iou(a, b, aligned=True), segment_iou(a, b).diagonal(), atol=1e-7)
    assert torch.allclose(generalized_segment_iou(a, b, aligned=True),
                          generalized_segment_iou(a, b).diagonal(), atol=1e-7)
    with pytest.raises(ValueError):
        segment_iou(a, b[:3], aligned=True)
    with pytest.raises(ValueError):
        segment_iou(torch.zeros(2, 3), b)


def test_generalized_iou_hand_values():
    a = torch.tensor([[0., 3.], [0., 1.], [5., 5.], [0., 1.]])
    b = torch.tensor([[2., 6.], [3., 4.], [5., 5.], [0., 1.]])
    giou = generalized_segment_iou(a, b, aligned=True)
    # [0,1]&[3,4]: iou 0, enclosing 4, union 2 -> -0.5; two identical points: 0, not NaN.
    assert torch.allclose(giou, torch.tensor([1 / 6, -0.5, 0.0, 1.0]), atol=1e-7)


def test_iou_gradients_are_finite_for_degenerate_and_exact_otherwise():
    a = torch.tensor([[5., 5.], [0., 3.], [3., 1.]], requires_grad=True)
    b = torch.tensor([[5., 5.], [2., 6.], [3., 1.]], requires_grad=True)
    (segment_iou(a, b).sum() + generalized_segment_iou(a, b).sum()).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    # iou([0,3],[2,6]) = 1/6. d/d end_a: inter' = 1, union' = 0 -> 1/6;
    # d/d start_a: inter' = 0, union' = -1 -> inter / union**2 = 1/36.
    a2 = torch.tensor([[0., 3.]], requires_grad=True)
    segment_iou(a2, torch.tensor([[2., 6.]])).sum().backward()
    assert torch.allclose(a2.grad, torch.tensor([[1 / 36, 1 / 6]]), atol=1e-7)


def test_iou_gradcheck_on_generic_segments():
    g = torch.Generator().manual_seed(2)
    a = segment_cw_to_t1t2(torch.rand(4, 2, generator=g, dtype=torch.float64) * 0.5 + 0.25)
    b = segment_cw_to_t1t2(torch.rand(3, 2, generator=g, dtype=torch.float64) * 0.5 + 0.25)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(segment_iou, (a, b))
    assert torch.autograd.gradcheck(generalized_segment_iou, (a, b))


seg = st.tuples(st.floats(-2, 2), st.floats(0, 2)).map(lambda cw: [cw[0], cw[1]])


@settings(max_examples=60, deadline=None)
@given(st.lists(seg, min_size=1, max_size=4), st.lists(seg, min_size=1, max_size=4))
def test_iou_properties(sa, sb):
    a = segment_cw_to_t1t2(torch.tensor(sa, dtype=torch.float64))
    b = segment_cw_to_t1t2(torch.tensor(sb, dtype=torch.float64))
    iou = segment_iou(a, b)
    giou = generalized_segment_iou(a, b)
    assert torch.isfinite(iou).all() and torch.isfinite(giou).all()
    assert (iou >= 0).all() and (iou <= 1 + 1e-12).all()
    assert (giou >= -1 - 1e-12).all() and (giou <= iou + 1e-12).all()
    assert torch.allclose(iou, segment_iou(b, a).T)
    self_iou = segment_iou(a, a).diagonal()
    nonzero = (a[:, 1] - a[:, 0]) > 0
    assert torch.allclose(self_iou[nonzero], torch.ones_like(self_iou[nonzero]))


def test_pairwise_iou_broadcasts_leading_batch_dims():
    # (B, N, 2) x (B, M, 2) -> (B, N, M), each batch entry as if computed on its own (e.g. per-video Soft-NMS)
    torch.manual_seed(0)
    start = torch.rand(3, 5, 1)
    a = torch.cat([start, start + torch.rand(3, 5, 1)], -1)
    start = torch.rand(3, 4, 1)
    b = torch.cat([start, start + torch.rand(3, 4, 1)], -1)
    batched = segment_iou(a, b)
    assert batched.shape == (3, 5, 4)
    for i in range(3):
        assert torch.equal(batched[i], segment_iou(a[i], b[i]))
    assert torch.equal(generalized_segment_iou(a, b)[1], generalized_segment_iou(a[1], b[1]))


def test_numpy_paired_tiou_equals_the_torch_one_bit_for_bit():
    # the evaluator's numpy tIoU and the models' torch tIoU are one definition (same operation order)
    rng = np.random.default_rng(0)
    a = np.sort(rng.uniform(0, 10, (200, 2)), axis=1)
    b = np.sort(rng.uniform(0, 10, (200, 2)), axis=1)
    a[:5] = b[:5]  # identical pairs
    a[5:10, 1] = a[5:10, 0]  # zero-length
    got = paired_tiou(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    want = segment_iou(torch.from_numpy(a), torch.from_numpy(b), aligned=True).numpy()
    assert np.array_equal(got, want) and np.all(got[:5] == 1.0)
