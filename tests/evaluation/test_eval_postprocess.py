"""Window merging before evaluation."""
import numpy as np
import pytest
import torch

from zeetad.evaluation.postprocess import (merge_video_detections, merge_window_detections, official_predictions,
                                          to_official_results)


def window(segs, scores, labels):
    return {'segments': np.asarray(segs, float).reshape(-1, 2), 'scores': np.asarray(scores, float),
            'labels': np.asarray(labels, np.int64)}


def test_clip_min_duration_topk_and_nms():
    w1 = window([[-5, 10], [90, 120], [50, 50.05]], [0.9, 0.8, 0.99], [0, 1, 0])
    w2 = window([[0, 10], [30, 40]], [0.7, 0.1], [0, 0])
    out = merge_window_detections([w1, w2], dict(method='hard', iou_threshold=0.5), duration=100.0,
                                  min_duration=0.1, pre_nms_topk=3)
    # [50, 50.05] too short; top-3 drops the 0.1 one; [0,10] x2 -> hard NMS keeps one
    np.testing.assert_array_equal(out['segments'], [[0, 10], [90, 100]])
    np.testing.assert_array_equal(out['scores'], [0.9, 0.8])
    np.testing.assert_array_equal(out['labels'], [0, 1])
    assert out['segments'].dtype == np.float64 and out['labels'].dtype == np.int64


def test_default_min_duration_drops_empty_and_inverted():
    out = merge_window_detections([window([[3, 3], [5, 4], [1, 2]], [0.9, 0.9, 0.5], [0, 0, 0])], None)
    np.testing.assert_array_equal(out['segments'], [[1, 2]])


def test_independent_of_window_order_and_partition():
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 100, 200)
    segs = np.stack([s, s + rng.uniform(1, 10, 200)], 1)
    scores = np.round(rng.uniform(size=200), 2)  # many ties
    labels = rng.integers(0, 4, 200)
    cfg = dict(method='gaussian', sigma=0.5, voting_thresh=0.7, max_seg_num=50)
    ref = merge_window_detections([window(segs, scores, labels)], cfg, duration=105.0)
    perm = rng.permutation(200)
    parts = np.array_split(perm, 7)
    windows = [window(segs[p], scores[p], labels[p]) for p in parts][::-1]
    out = merge_window_detections(windows, cfg, duration=105.0)
    for k in ref:
        np.testing.assert_array_equal(out[k], ref[k])


def test_torch_inputs_max_per_video_and_no_nms():
    w = {'segments': torch.tensor([[0., 1.], [0., 1.], [2., 3.]]), 'scores': torch.tensor([0.2, 0.9, 0.5]),
         'labels': torch.tensor([0, 0, 1])}
    out = merge_window_detections([w], dict(method=None), max_per_video=2)
    np.testing.assert_allclose(out['scores'], [0.9, 0.5], rtol=1e-7)
    assert merge_window_detections([], None)['segments'].shape == (0, 2)
    with pytest.raises(KeyError):
        merge_window_detections([w], dict(sigmaa=0.3))


def test_official_format():
    res = to_official_results({'v2': window([[1, 2]], [0.5], [1]), 'v1': window([], [], [])}, ['a', 'b'])
    assert list(res) == ['v1', 'v2']
    assert res['v2'] == [{'label': 'b', 'score': 0.5, 'segment': [1.0, 2.0]}]
    sub = official_predictions(res)
    assert set(sub) == {'version', 'results', 'external_data'} and sub['external_data']['used'] is False


def test_merge_video_detections_equals_one_video_at_a_time():
    rng = np.random.default_rng(3)
    by_video, durations = {}, {}
    for v in range(7):
        n = int(rng.integers(0, 300))
        s = rng.uniform(0, 100, n)
        segs = np.stack([s, s + rng.uniform(0, 10, n)], 1)
        by_video[f'v{v}'] = [window(segs, np.round(rng.uniform(size=n), 2), rng.integers(0, 5, n))]
        durations[f'v{v}'] = 95.0
    cfg = dict(method='gaussian', sigma=0.5, voting_thresh=0.7, max_seg_num=40)
    alone = {v: merge_window_detections(w, cfg, duration=durations[v], max_per_video=30) for v, w in by_video.items()}
    for per_call in (1, 3, 64):
        out = merge_video_detections(by_video, cfg, durations=durations, max_per_video=30, videos_per_call=per_call)
        assert list(out) == list(by_video)
        for v in by_video:
            for k in ('segments', 'scores', 'labels'):
                np.testing.assert_array_equal(out[v][k], alone[v][k])


def test_merge_errors_name_the_video():
    bad = {'ok': [window([[0, 1]], [0.5], [0])], 'v_bad': [window([[0, np.nan]], [0.5], [0])]}
    with pytest.raises(ValueError, match="v_bad"):
        merge_video_detections(bad, None)


def test_video_class_context_hand_values():
    from zeetad.evaluation import video_class_context
    scores, labels = np.array([0.6, 0.2, 0.2, 0.1]), np.array([0, 0, 1, 2])
    # evidence per class: 0.8, 0.2, 0.1 -> shares of the best 1, 0.25, 0.125
    np.testing.assert_allclose(video_class_context(scores, labels, 1.0), [0.6, 0.2, 0.05, 0.0125])
    np.testing.assert_allclose(video_class_context(scores, labels, 0.5), [0.6, 0.2, 0.1, 0.1 * 0.125 ** 0.5])
    np.testing.assert_array_equal(video_class_context(scores, labels, 0.0), scores)
    with pytest.raises(ValueError, match='video_context_power'):
        video_class_context(scores, labels, -1.0)


def test_video_context_is_per_video_and_reorders_across_videos():
    # Video a is mostly class 0; its weak class-1 detection falls below video b's class-1 detection.
    a = window([[0, 10], [20, 30], [40, 50]], [0.9, 0.8, 0.5], [0, 0, 1])
    b = window([[0, 10]], [0.4], [1])
    off = merge_video_detections({'a': [a], 'b': [b]}, dict(method=None))
    on = merge_video_detections({'a': [a], 'b': [b]}, dict(method=None), video_context_power=1.0)
    assert off['a']['scores'][-1] == 0.5 > off['b']['scores'][0]
    np.testing.assert_allclose(on['a']['scores'], [0.9, 0.8, 0.5 * 0.5 / 1.7])
    np.testing.assert_allclose(on['b']['scores'], [0.4])  # its only class: unchanged
    assert on['a']['scores'][-1] < on['b']['scores'][0]
