"""The two Soft-NMS loops (numpy one pick per step, torch lock step): each equals the per-segment loop, and
one video on CPU takes the numpy loop unless the lock-step one needs far fewer steps."""
import math

import numpy as np
import pytest
import torch

from zeetad.evaluation import soft_nms as soft_nms_module
from zeetad.evaluation.soft_nms import batched_soft_nms, soft_nms_per_video
from zeetad.testing.reference import loop_soft_nms

KERNELS = {'sequential': 10**9, 'lockstep': 0}  # value of _LOCKSTEP_STEP_COST that forces each loop


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls of each loop made through ``soft_nms``."""
    seen = {'sequential': 0, 'lockstep': 0}
    for name, attr in (('sequential', 'sequential_soft_nms'), ('lockstep', 'lockstep_soft_nms')):
        original = getattr(soft_nms_module, attr)

        def spy(*args, _original=original, _name=name, **kwargs):
            seen[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(soft_nms_module, attr, spy)
    return seen


def _random_video(rng, n, n_classes, dtype=np.float64):
    """Clustered candidates with long spanning segments, zero-length ones and exact duplicates."""
    start = rng.choice(rng.uniform(0, 80, 6), n) + rng.normal(0, 2, n)
    length = rng.uniform(0, 15, n)
    length[rng.uniform(size=n) < 0.05] = 0.0
    length[rng.uniform(size=n) < 0.05] = 60.0  # reaches across many later starts
    segs = np.stack([start, start + length], 1).astype(dtype)
    scores = np.round(rng.uniform(size=n), 3).astype(dtype)  # rounded: exact ties
    segs[1::17], scores[1::17] = segs[0::17][:len(segs[1::17])], scores[0::17][:len(scores[1::17])]
    return segs, scores, rng.integers(0, n_classes, n)


@pytest.mark.parametrize('kernel', list(KERNELS))
@pytest.mark.parametrize('method', ['gaussian', 'linear', 'hard'])
@pytest.mark.parametrize('multiclass', [True, False])
def test_each_loop_equals_the_reference(monkeypatch, calls, kernel, method, multiclass):
    monkeypatch.setattr(soft_nms_module, '_LOCKSTEP_STEP_COST', KERNELS[kernel])
    rng = np.random.default_rng(sum(map(ord, kernel + method)) + multiclass)
    for trial in range(6):
        segs, scores, labels = _random_video(rng, int(rng.integers(1, 400)), 4)
        kw = dict(method=method, multiclass=multiclass, sigma=float(rng.uniform(0.2, 1.0)), iou_threshold=0.4,
                  min_score=[0.001, 0.05, 0.0][trial % 3], max_seg_num=int(rng.integers(1, 150)))
        s, c, l = batched_soft_nms(torch.from_numpy(segs), torch.from_numpy(scores), torch.from_numpy(labels), **kw)
        rs, rc, rl, _ = loop_soft_nms(segs, scores, labels, **kw)
        np.testing.assert_array_equal(l.numpy(), rl)
        np.testing.assert_allclose(c.numpy(), rc, rtol=0, atol=1e-12)
        np.testing.assert_allclose(s.numpy(), rs, rtol=0, atol=0)
    assert calls[kernel] == 6 and sum(calls.values()) == 6


def test_a_long_earlier_segment_is_decayed():
    """[0, 100] starts before the pick [50, 60] but overlaps it; [60, 70] only touches [50, 60] (tIoU 0) and is
    decayed by [0, 100] (tIoU 0.1); the zero-length [55, 55] overlaps nothing."""
    segs = torch.tensor([[0.0, 100.0], [50.0, 60.0], [60.0, 70.0], [55.0, 55.0]], dtype=torch.float64)
    scores = torch.tensor([0.5, 0.9, 0.3, 0.2], dtype=torch.float64)
    _, c, _ = batched_soft_nms(segs, scores, torch.zeros(4, dtype=torch.long), sigma=0.5)
    np.testing.assert_allclose(c.numpy(), [0.9, 0.5 * math.exp(-0.02), 0.3 * math.exp(-0.02), 0.2], rtol=1e-15)


def test_float32_one_video_matches_float64():
    rng = np.random.default_rng(3)
    segs, scores, labels = _random_video(rng, 500, 3)
    out64 = batched_soft_nms(torch.from_numpy(segs), torch.from_numpy(scores), torch.from_numpy(labels))
    out32 = batched_soft_nms(torch.from_numpy(segs).float(), torch.from_numpy(scores).float(),
                             torch.from_numpy(labels))
    assert out32[1].dtype == torch.float32
    np.testing.assert_array_equal(out32[2].numpy(), out64[2].numpy())
    np.testing.assert_allclose(out32[1].numpy(), out64[1].numpy(), atol=1e-5)


def test_one_video_takes_the_numpy_loop_many_small_groups_the_lockstep(calls):
    rng = np.random.default_rng(4)
    segs, scores, labels = (torch.from_numpy(x) for x in _random_video(rng, 300, 20))
    batched_soft_nms(segs, scores, labels, max_seg_num=100)
    soft_nms_per_video(segs, scores, labels, torch.zeros(300, dtype=torch.long), max_seg_num=100)
    assert calls == {'sequential': 2, 'lockstep': 0}
    soft_nms_per_video(segs, scores, labels, torch.arange(300) % 2, max_seg_num=100)  # two videos
    assert calls == {'sequential': 2, 'lockstep': 1}
    # ZEAL's curves: 100 groups of 3 and a cap of all 300 -> 300 numpy steps against 3 lock steps.
    batched_soft_nms(segs, scores, torch.arange(300) // 3, max_seg_num=300)
    assert calls == {'sequential': 2, 'lockstep': 2}
