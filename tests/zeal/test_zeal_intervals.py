"""ZEAL's interval stage on hand-made curves with known answers, and on synthetic curves."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeetad.zeal.interval_nms import localize_curves, localize_video, merge_near_duplicates, soft_nms_curves
from zeetad.zeal.intervals import (IntervalConfig, boundary_candidates, minmax_normalize, pair_boundaries,
                                   propose_intervals, score_intervals)


def test_minmax_normalize_maps_into_eps_range_and_flags_constant_columns():
    x = np.array([[0.0, 3.0], [1.0, 3.0], [2.0, 3.0]])
    out = minmax_normalize(x, 0.05)
    np.testing.assert_allclose(out[:, 0], [0.05, 0.5, 0.95], atol=1e-12)
    assert np.isnan(out[:, 1]).all()


def test_boundary_candidates_threshold_and_greedy_spacing():
    scores = np.array([0.9, 0.95, 0.1, 0.1, 0.8, 0.1, 0.1, 0.1, 0.1, 0.7])
    # floor(0.4 * 10) = 4 -> threshold 0.7 -> {0, 1, 4, 9}; by score 1 kept, 0 too close, 4 and 9 kept.
    np.testing.assert_array_equal(boundary_candidates(scores, 0.4, 3), [1, 4, 9])
    np.testing.assert_array_equal(boundary_candidates(scores, 0.4, 1), [0, 1, 4, 9])
    # Ties at the threshold all count; the earlier frame wins a tie in the spacing step.
    np.testing.assert_array_equal(boundary_candidates(np.array([0.5, 0.5, 0.5, 0.1]), 0.25, 2), [0, 2])
    assert len(boundary_candidates(scores, 0.05, 3)) == 0  # floor(0.5) = 0 candidates


def test_pair_boundaries_follows_the_reference_rule():
    starts, ends = np.array([2, 10, 20]), np.array([5, 8, 12, 15, 25])
    # start 2: ends after it up to the first end past the next start (12); start 10: up to 25; start 20: 25.
    expected = [[2, 5], [2, 8], [2, 12], [10, 12], [10, 15], [10, 25], [20, 25]]
    np.testing.assert_array_equal(pair_boundaries(starts, ends, 100), expected)
    np.testing.assert_array_equal(pair_boundaries(starts, ends, 10),
                                  [[2, 5], [2, 8], [2, 12], [10, 12], [10, 15], [20, 25]])
    assert pair_boundaries(np.array([9]), np.array([3]), 100).shape == (0, 2)


def _reference_pairs(starts, ends, max_len):
    out = []
    for i, s in enumerate(starts):
        stop = False
        for e in ends:
            if s < e and e - s <= max_len and not stop:
                out.append((s, e))
            if i < len(starts) - 1 and e > starts[i + 1] and not stop:
                stop = True
    return out


@settings(max_examples=150, deadline=None)
@given(st.sets(st.integers(0, 60), max_size=12), st.sets(st.integers(0, 60), max_size=12), st.integers(1, 70))
def test_pair_boundaries_matches_a_plain_loop(starts, ends, max_len):
    starts, ends = sorted(starts), sorted(ends)
    got = pair_boundaries(np.array(starts, np.int64), np.array(ends, np.int64), max_len)
    assert [tuple(p) for p in got.tolist()] == _reference_pairs(starts, ends, max_len)


def test_score_intervals_formula():
    start, end = np.array([0.1, 0.9, 0.2, 0.3]), np.array([0.2, 0.1, 0.3, 0.8])
    act = np.array([0.0, 0.4, 0.2, 0.6])
    got = score_intervals(np.array([[1, 3], [0, 1]]), start, end, act, 0.1)
    np.testing.assert_allclose(got, [0.1 * (0.9 + 0.8) + 0.9 * 0.4, 0.1 * (0.1 + 0.1) + 0.9 * 0.2], atol=1e-12)


def _two_instance_curves(num=40):
    start, end, act = np.zeros(num), np.zeros(num), np.zeros(num)
    start[5], start[25], end[12], end[32] = 1.0, 0.9, 1.0, 0.9
    act[5:13], act[25:33] = 0.3, 0.3
    return np.stack([start, end], axis=1), act


def test_localize_known_answer():
    curves, act = _two_instance_curves()
    cfg = IntervalConfig(top_p=0.05, min_class_mean=None)  # floor(0.05 * 40) = 2 candidates per curve
    pairs, scores = propose_intervals(curves, act, cfg)
    np.testing.assert_array_equal(pairs, [[5, 12], [5, 32], [25, 32]])
    hi, lo = 0.95, 0.05 + 0.9 * 0.9  # normalised peaks
    s_a, s_b = 0.1 * 2 * hi + 0.9 * 0.3, 0.1 * 2 * lo + 0.9 * 0.3
    s_long = 0.1 * (hi + lo) + 0.9 * (16 * 0.3 / 28)
    np.testing.assert_allclose(scores, [s_a, s_long, s_b], atol=1e-12)
    segs, final, cls = localize_video(curves[:, None, :], act[None], cfg)
    np.testing.assert_array_equal(segs, [[5, 12], [25, 32], [5, 32]])
    decay = math.exp(-(7 / 27) ** 2 / 1.3)  # the long one overlaps each short one with tIoU 7/27
    np.testing.assert_allclose(final, [s_a, s_b, s_long * decay * decay], atol=1e-12)
    np.testing.assert_array_equal(cls, [0, 0, 0])


def test_low_mean_classes_are_skipped_unless_disabled():
    curves, act = _two_instance_curves()
    cfg = IntervalConfig(top_p=0.05)  # min_class_mean 0.1 > this class's mean
    assert len(propose_intervals(curves, act, cfg)[0]) == 0
    assert len(propose_intervals(curves, act, cfg, skip_low_mean=False)[0]) == 3


def test_degenerate_curves():
    cfg = IntervalConfig(min_class_mean=None)
    flat = np.full((30, 2), 0.5)
    assert len(propose_intervals(flat, np.zeros(30), cfg)[0]) == 0
    short = np.array([[0.2, 0.1], [0.9, 0.3]])  # floor(0.35 * 2) = 0: the whole video
    pairs, _ = propose_intervals(short, np.zeros(2), cfg)
    np.testing.assert_array_equal(pairs, [[0, 1]])
    with pytest.raises(ValueError):
        propose_intervals(np.zeros((5, 3)), np.zeros(5), cfg)
    with pytest.raises(KeyError):
        IntervalConfig.from_dict({'top_pct': 0.3})


def test_merge_near_duplicates_union_and_mean():
    segs = np.array([[0.0, 10.0], [0.0, 10.5], [20.0, 30.0], [0.2, 10.4]])
    scores = np.array([0.8, 0.6, 0.5, 0.4])
    out_s, out_c = merge_near_duplicates(segs, scores, 0.9)
    # by start: [0,10] .8, [0,10.5] .6 -> [0,10.5] .7; [0.2,10.4] tIoU .97 -> .55; [20,30] stays.
    np.testing.assert_allclose(out_s, [[0.0, 10.5], [20.0, 30.0]])
    np.testing.assert_allclose(out_c, [0.55, 0.5])
    assert len(merge_near_duplicates(segs, scores, 0.9, min_score=0.52)[0]) == 1


def test_soft_nms_curves_keeps_curves_independent():
    a = (np.array([[0.0, 10.0], [0.0, 8.0]]), np.array([1.0, 0.9]))
    out = soft_nms_curves([a, a, (np.zeros((0, 2)), np.zeros(0))], sigma=1.3, min_score=0.1, max_elements=2)
    for segs, scores in out[:2]:
        np.testing.assert_allclose(scores, [1.0, 0.9 * math.exp(-0.64 / 1.3)])
        np.testing.assert_allclose(segs, [[0, 10], [0, 8]])
    assert len(out[2][0]) == 0
    assert len(soft_nms_curves([a], sigma=1.3, min_score=0.9)[0][0]) == 1  # the decayed one falls below


def test_localize_curves_batch_equals_one_by_one():
    rng = np.random.default_rng(0)
    curves = [rng.random((n, 2)) for n in (30, 55, 80)]
    acts = [rng.random(n) * 0.3 for n in (30, 55, 80)]
    together = localize_curves(curves, acts, dict(nms_block_elements=64))
    for c, a, (segs, scores) in zip(curves, acts, together):
        alone_s, alone_c = localize_curves([c], [a])[0]
        np.testing.assert_allclose(segs, alone_s)
        np.testing.assert_allclose(scores, alone_c)
        assert (np.diff(scores) <= 0).all() and (segs[:, 0] < segs[:, 1]).all()


def test_synthetic_map_falls_smoothly_with_noise():
    from zeetad.datasets.annotations import load_annotations, to_ground_truth
    from zeetad.testing.synthetic_eval import evaluate_synthetic
    recs = [r for r in load_annotations('data/thumos14/annotations/thumos14.json') if r.subset.lower() == 'test']
    classes = ['HammerThrow', 'PoleVault', 'ThrowDiscus']
    recs = [r for r in recs if any(i.label in classes for i in r.instances)][::3]
    gt = to_ground_truth(recs, classes)
    dur = {r.video_id: r.duration for r in recs}
    avg = [evaluate_synthetic(gt, classes, dur, noise, seed=0)['average'] for noise in (0.0, 0.3, 1.0, 3.0)]
    assert avg[0] > 0.6 and avg[-1] < 0.2
    assert all(a > b for a, b in zip(avg, avg[1:])), avg
