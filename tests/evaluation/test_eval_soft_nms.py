"""Batched Soft-NMS: hand cases and equality with the per-segment loop (the oracle)."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zeetad.testing.reference import loop_soft_nms
from zeetad.evaluation.soft_nms import batched_soft_nms, segment_iou_matrix, soft_nms_per_video
from zeetad.evaluation.soft_nms_kernel import plan_buckets


def t(x, dtype=torch.float64):
    return torch.tensor(x, dtype=dtype)


def run(segs, scores, labels, **kw):
    s, c, l = batched_soft_nms(t(segs).reshape(-1, 2), t(scores), torch.tensor(labels, dtype=torch.long), **kw)
    return s.numpy(), c.numpy(), l.numpy()


def assert_same_as_loop(segs, scores, labels, **kw):
    s, c, l = run(segs, scores, labels, **kw)
    rs, rc, rl, _ = loop_soft_nms(np.asarray(segs, float).reshape(-1, 2), scores, labels, **kw)
    assert len(c) == len(rc)
    np.testing.assert_array_equal(l, rl)
    np.testing.assert_allclose(c, rc, rtol=0, atol=1e-6)
    np.testing.assert_allclose(s, rs, rtol=0, atol=1e-9)


def test_segment_iou_matrix():
    a = t([[0., 10.], [5., 5.]])
    b = t([[0., 5.], [20., 30.], [5., 5.]])
    np.testing.assert_allclose(segment_iou_matrix(a, b).numpy(), [[0.5, 0, 0], [0, 0, 0]])


def test_hard_is_classic_nms():
    segs = [[0, 10], [1, 10], [20, 30], [0, 9]]
    s, c, l = run(segs, [0.9, 0.8, 0.7, 0.95], [0, 0, 0, 1], method='hard', iou_threshold=0.5)
    # class 0: [0,10] suppresses [1,10]; class 1 untouched; sorted by score
    np.testing.assert_array_equal(c, [0.95, 0.9, 0.7])
    np.testing.assert_array_equal(s, [[0, 9], [0, 10], [20, 30]])
    np.testing.assert_array_equal(l, [1, 0, 0])


def test_gaussian_and_linear_decay_values():
    segs = [[0, 10], [0, 5]]  # tIoU 0.5
    _, c, _ = run(segs, [0.9, 0.8], [0, 0], method='gaussian', sigma=0.5)
    np.testing.assert_allclose(c, [0.9, 0.8 * math.exp(-0.25 / 0.5)], rtol=1e-15)
    _, c, _ = run(segs, [0.9, 0.8], [0, 0], method='linear', iou_threshold=0.3)
    np.testing.assert_allclose(c, [0.9, 0.4], rtol=1e-15)
    _, c, _ = run(segs, [0.9, 0.8], [0, 0], method='linear', iou_threshold=0.5)  # not above the threshold
    np.testing.assert_allclose(c, [0.9, 0.8], rtol=1e-15)


def test_multiclass_false_suppresses_across_classes():
    segs = [[0, 10], [0, 10]]
    _, c, l = run(segs, [0.9, 0.8], [0, 1], method='hard', multiclass=True)
    assert len(c) == 2
    _, c, l = run(segs, [0.9, 0.8], [0, 1], method='hard', multiclass=False)
    np.testing.assert_array_equal(l, [0])


def test_min_score_max_seg_num_and_ties():
    segs = [[0, 1], [2, 3], [4, 5], [6, 7]]
    _, c, l = run(segs, [0.5, 0.0005, 0.5, 0.7], [1, 0, 0, 1], min_score=0.001)
    np.testing.assert_array_equal(c, [0.7, 0.5, 0.5])
    s, c, _ = run(segs, [0.5, 0.9, 0.5, 0.7], [1, 0, 0, 1], max_seg_num=3)
    # equal scores: lower input index first
    np.testing.assert_array_equal(s, [[2, 3], [6, 7], [0, 1]])


def test_empty_and_all_below_min_score():
    for n in (0, 3):
        s, c, l = batched_soft_nms(torch.zeros(n, 2), torch.zeros(n), torch.zeros(n, dtype=torch.long))
        assert s.shape == (0, 2) and c.shape == (0,) and l.shape == (0,)


def test_score_voting_refines_segment():
    segs = [[0, 10], [1, 11]]  # tIoU 9/11
    s, c, _ = run(segs, [0.9, 0.6], [0, 0], method='hard', iou_threshold=0.95, voting_thresh=0.5)
    w0, w1 = 0.9 * 1.0, 0.6 * 9 / 11
    np.testing.assert_allclose(s[0], [(0 * w0 + 1 * w1) / (w0 + w1), (10 * w0 + 11 * w1) / (w0 + w1)], rtol=1e-12)
    np.testing.assert_allclose(c, [0.9, 0.6])


def test_float32_and_groups_argument():
    rng = np.random.default_rng(0)
    st_ = rng.uniform(0, 50, 300)
    segs = np.stack([st_, st_ + rng.uniform(1, 10, 300)], 1)
    scores, labels = rng.uniform(size=300), rng.integers(0, 3, 300)
    s64, c64, l64 = run(segs, scores, labels)
    s32, c32, l32 = batched_soft_nms(t(segs, torch.float32), t(scores, torch.float32), torch.from_numpy(labels))
    assert s32.dtype == torch.float32
    np.testing.assert_allclose(c32.numpy(), c64, atol=1e-5)
    # two videos in one call == each video separately (max_seg_num large enough)
    groups = torch.from_numpy((np.arange(300) >= 150).astype(np.int64))
    sg, cg, lg = batched_soft_nms(t(segs), t(scores), torch.from_numpy(labels), groups=groups, max_seg_num=1000)
    parts = [run(segs[i:i + 150], scores[i:i + 150], labels[i:i + 150], max_seg_num=1000) for i in (0, 150)]
    np.testing.assert_allclose(np.sort(cg.numpy()), np.sort(np.concatenate([p[1] for p in parts])), rtol=1e-15)


@pytest.mark.parametrize('method', ['gaussian', 'linear', 'hard'])
@pytest.mark.parametrize('multiclass', [True, False])
def test_equals_loop_on_random_inputs(method, multiclass):
    rng = np.random.default_rng(hash((method, multiclass)) % 2**32)
    for _ in range(12):
        n = int(rng.integers(1, 150))
        st_ = rng.uniform(0, 100, n)
        segs = np.stack([st_, st_ + rng.uniform(0, 20, n)], 1)
        kw = dict(method=method, multiclass=multiclass, sigma=float(rng.uniform(0.2, 1.0)),
                  iou_threshold=float(rng.uniform(0.05, 0.7)), min_score=float(rng.choice([0.001, 0.05])),
                  max_seg_num=int(rng.integers(1, 120)), voting_thresh=float(rng.choice([0.0, 0.6])))
        assert_same_as_loop(segs, rng.uniform(size=n), rng.integers(0, 5, n), **kw)


@pytest.mark.parametrize('method', ['gaussian', 'linear', 'hard'])
def test_equals_loop_with_one_dominant_class(method):
    # Skewed classes take the flat (unpadded) layout; uniform ones the padded.
    rng = np.random.default_rng(5)
    for _ in range(8):
        n = int(rng.integers(20, 300))
        st_ = rng.uniform(0, 60, n)
        segs = np.stack([st_, st_ + rng.uniform(0, 15, n)], 1)
        labels = np.where(rng.uniform(size=n) < 0.85, 3, rng.integers(0, 8, n))
        counts = np.bincount(labels)
        assert (counts > 0).sum() * counts.max() > 2 * n
        kw = dict(method=method, sigma=0.5, iou_threshold=0.3, min_score=0.01,
                  max_seg_num=int(rng.integers(1, 200)), voting_thresh=float(rng.choice([0.0, 0.7])))
        assert_same_as_loop(segs, np.round(rng.uniform(size=n), 2), labels, **kw)


seg = st.tuples(st.integers(0, 20), st.integers(0, 8)).map(lambda x: [float(x[0]), float(x[0] + x[1])])


@settings(max_examples=150, deadline=None)
@given(items=st.lists(st.tuples(seg, st.sampled_from([0.05, 0.3, 0.3, 0.6, 0.9, 1.0]), st.integers(0, 2)),
                      max_size=30),
       method=st.sampled_from(['gaussian', 'linear', 'hard']), multiclass=st.booleans(),
       max_seg_num=st.integers(1, 30), min_score=st.sampled_from([0.001, 0.1]),
       voting=st.sampled_from([0.0, 0.5]))
def test_equals_loop_property(items, method, multiclass, max_seg_num, min_score, voting):
    segs = [s for s, _, _ in items]
    assert_same_as_loop(np.asarray(segs, float).reshape(-1, 2), [c for _, c, _ in items], [l for _, _, l in items],
                        method=method, multiclass=multiclass, max_seg_num=max_seg_num, min_score=min_score,
                        sigma=0.5, iou_threshold=0.3, voting_thresh=voting)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    rng = np.random.default_rng(1)
    st_ = rng.uniform(0, 100, 500)
    segs = t(np.stack([st_, st_ + rng.uniform(0, 20, 500)], 1))
    scores, labels = t(rng.uniform(size=500)), torch.from_numpy(rng.integers(0, 5, 500))
    cpu = batched_soft_nms(segs, scores, labels, voting_thresh=0.7)
    gpu = batched_soft_nms(segs.cuda(), scores.cuda(), labels.cuda(), voting_thresh=0.7)
    assert gpu[0].is_cuda
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a.numpy(), b.cpu().numpy(), atol=1e-9)


def _videos(rng, n_videos, dominant):
    """Candidates of several videos, interleaved, some videos skewed to one class."""
    parts = []
    for v in range(n_videos):
        n = int(rng.integers(0, 120))
        st_ = rng.uniform(0, 60, n)
        labels = np.where(rng.uniform(size=n) < dominant, 2, rng.integers(0, 6, n))
        parts.append((np.stack([st_, st_ + rng.uniform(0, 12, n)], 1), np.round(rng.uniform(size=n), 2), labels,
                      np.full(n, v)))
    segs, scores, labels, videos = (np.concatenate(x) for x in zip(*parts))
    perm = rng.permutation(len(scores))
    return segs[perm], scores[perm], labels[perm], videos[perm]


@pytest.mark.parametrize('method', ['gaussian', 'linear', 'hard'])
@pytest.mark.parametrize('multiclass', [True, False])
def test_per_video_equals_loop_per_video(method, multiclass):
    """Many videos in one call (interleaved, skewed classes, one video with
    nothing above min_score) give each video's own Soft-NMS result."""
    rng = np.random.default_rng(7)
    for trial in range(4):
        segs, scores, labels, videos = _videos(rng, 9, dominant=0.3 * trial)
        scores[videos == 4] = 0.0005
        kw = dict(method=method, multiclass=multiclass, sigma=0.5, iou_threshold=0.3, min_score=0.001,
                  max_seg_num=int(rng.integers(1, 60)), voting_thresh=float(rng.choice([0.0, 0.6])))
        s, c, l, v = soft_nms_per_video(t(segs), t(scores), torch.from_numpy(labels), torch.from_numpy(videos), **kw)
        assert (torch.diff(v) >= 0).all() and 4 not in v.tolist()
        for vid in range(9):
            mine = videos == vid
            rs, rc, rl, _ = loop_soft_nms(segs[mine], scores[mine], labels[mine], **kw)
            m = (v == vid).numpy()
            np.testing.assert_array_equal(l.numpy()[m], rl)
            np.testing.assert_allclose(c.numpy()[m], rc, rtol=0, atol=1e-6)
            np.testing.assert_allclose(s.numpy()[m], rs, rtol=0, atol=1e-9)


def test_tiny_sigma_zero_weights_and_empty_input():
    # exp(-iou^2 / 1e-3) underflows to 0 for overlapping segments: a picked (-inf) score times 0 must
    # not turn into NaN and be picked again.
    segs = [[0, 10], [0, 10], [1, 10], [20, 30]]
    assert_same_as_loop(segs, [0.9, 0.8, 0.7, 0.6], [0, 0, 0, 0], sigma=1e-3)
    out = soft_nms_per_video(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long),
                             torch.zeros(0, dtype=torch.long))
    assert [x.shape[0] for x in out] == [0, 0, 0, 0]


def test_plan_buckets_separates_dominant_class():
    # 30 classes of 20 candidates and one of 1,500: the big one gets its own bucket, the small ones
    # share one; uniform sizes stay one bucket.
    plan = plan_buckets([20] * 30 + [1500], n_steps=200)
    assert plan == [(30, 20), (1, 1500)]
    assert plan_buckets([1000] * 16, n_steps=100) == [(16, 1000)]
    assert sum(r for r, _ in plan_buckets(list(range(1, 300)), 50)) == 299


def test_runs_single_threaded_and_restores_the_thread_count():
    seen = []
    original = torch.Tensor.argmax

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(self, *args, **kwargs)

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch.Tensor, 'argmax', spy)
            soft_nms_per_video(t([[0, 2], [1, 3]]), t([0.9, 0.8]), torch.tensor([0, 0]), torch.tensor([0, 1]))
        assert seen and set(seen) == {1} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.tuples(seg, st.sampled_from([0.05, 0.3, 0.3, 0.6, 0.9, 1.0]), st.integers(0, 2),
                                st.integers(0, 3)), max_size=40),
       method=st.sampled_from(['gaussian', 'linear', 'hard']), multiclass=st.booleans(),
       max_seg_num=st.integers(1, 12), voting=st.sampled_from([0.0, 0.5]))
def test_per_video_equals_loop_property(items, method, multiclass, max_seg_num, voting):
    """Exact ties and tiny videos across several videos in one call."""
    segs = np.asarray([s for s, _, _, _ in items], float).reshape(-1, 2)
    scores, labels, videos = (np.asarray([x[i] for x in items]) for i in (1, 2, 3))
    kw = dict(method=method, multiclass=multiclass, max_seg_num=max_seg_num, min_score=0.1, sigma=0.5,
              iou_threshold=0.3, voting_thresh=voting)
    s, c, l, v = soft_nms_per_video(t(segs), t(scores.astype(float)), torch.tensor(labels.astype(np.int64)),
                                    torch.tensor(videos.astype(np.int64)), **kw)
    for vid in range(4):
        mine = videos == vid
        rs, rc, rl, _ = loop_soft_nms(segs[mine], scores[mine].astype(float), labels[mine], **kw)
        m = (v == vid).numpy()
        np.testing.assert_array_equal(l.numpy()[m], rl)
        np.testing.assert_allclose(c.numpy()[m], rc, rtol=0, atol=1e-6)
        np.testing.assert_allclose(s.numpy()[m], rs, rtol=0, atol=1e-9)


def test_both_entry_points_take_one_set_of_options():
    """``SoftNMSParams`` is the one list of options: both entry points refuse a typo and a bad method, and
    every option acts the same in both (here each set differently from its default)."""
    import dataclasses

    from zeetad.evaluation.soft_nms import SoftNMSParams
    segs, scores = t([[0, 4], [1, 5], [2, 6], [10, 12]]), t([0.9, 0.8, 0.7, 0.05])
    labels, videos = torch.tensor([0, 1, 0, 1]), torch.zeros(4, dtype=torch.long)
    calls = {'batched': lambda **kw: batched_soft_nms(segs, scores, labels, **kw),
             'per_video': lambda **kw: soft_nms_per_video(segs, scores, labels, videos, **kw)[:3]}
    for call in calls.values():
        with pytest.raises(TypeError, match='sigam'):
            call(sigam=0.5)
        with pytest.raises(ValueError, match="method must be one of .* got 'gausian'"):
            call(method='gausian')
    options = dict(method='linear', sigma=0.3, iou_threshold=0.2, min_score=0.1, max_seg_num=2, multiclass=False,
                   voting_thresh=0.3)
    assert sorted(options) == sorted(f.name for f in dataclasses.fields(SoftNMSParams))
    assert all(options[f.name] != f.default for f in dataclasses.fields(SoftNMSParams))
    a, b = calls['batched'](**options), calls['per_video'](**options)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    assert len(a[1]) == 2 and not torch.equal(a[0], segs[:2])  # max_seg_num cut, voting moved the segments
