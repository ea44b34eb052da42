"""Detection mAP: hand-computed cases, edge cases, equality with the loop reference."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zeetad.evaluation.detection_map import ACTIVITYNET_TIOUS, average_precision_detection, evaluate_detections
from zeetad.evaluation.ranking import interpolated_ap
from zeetad.testing.reference import loop_average_precision, loop_evaluate_detections, loop_interpolated_ap


def gt_(label, s, e):
    return {'label': label, 'segment': [s, e]}


def p_(label, score, s, e):
    return {'label': label, 'score': score, 'segment': [s, e]}


def evaluate(gt, preds, thr, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return evaluate_detections(gt, preds, thr, **kw)


def test_hand_computed_two_videos():
    gt = {'v1': [gt_('a', 0, 10), gt_('a', 20, 30)], 'v2': [gt_('a', 0, 10)]}
    preds = {'v1': [p_('a', 0.9, 0, 10), p_('a', 0.8, 1, 10), p_('a', 0.6, 20, 30)],
             'v2': [p_('a', 0.7, 0, 5)]}
    res = evaluate(gt, preds, [0.5, 0.7])
    # 0.5: tp 1,0,1,1 -> prec 1,.5,.67,.75 -> AP = (1 + .75 + .75) / 3
    assert res['mAP']['0.5'] == pytest.approx(2.5 / 3, abs=1e-15)
    # 0.7: tp 1,0,0,1 -> AP = (1 + .5) / 3
    assert res['mAP']['0.7'] == pytest.approx(0.5, abs=1e-15)
    assert res['average'] == pytest.approx((2.5 / 3 + 0.5) / 2, abs=1e-15)
    assert res['per_class'] == {'a': [pytest.approx(2.5 / 3), pytest.approx(0.5)]}


def test_highest_tiou_ground_truth_is_taken():
    # pred 1 overlaps A by .43 and B by .82: it must take B, leaving A to pred 2.
    gt = {'v': [gt_('a', 0, 10), gt_('a', 5, 15)]}
    preds = {'v': [p_('a', 0.9, 4, 14), p_('a', 0.8, 0, 9)]}
    assert evaluate(gt, preds, [0.4])['average'] == 1.0


# ---------------------------------------------------------------- official semantics on ties
# Our own transliteration of the official ``compute_average_precision_detection`` (ActivityNet
# ``Evaluation/eval_detection.py``), with numpy arrays for its DataFrames: same sorts (numpy's default,
# unstable ``argsort()[::-1]``), same loops, same float expressions. It is the yardstick for tied inputs.

def official_segment_iou(target, candidates):
    tt1 = np.maximum(target[0], candidates[:, 0])
    tt2 = np.minimum(target[1], candidates[:, 1])
    inter = (tt2 - tt1).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (target[1] - target[0]) - inter
    return inter.astype(float) / union


def official_interpolated_prec_rec(prec, rec):
    mprec = np.hstack([[0], prec, [0]])
    mrec = np.hstack([[0], rec, [1]])
    for i in range(len(mprec) - 1)[::-1]:
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1::] != mrec[0:-1])[0] + 1
    return np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx])


def official_ap(gt_video, gt_seg, pred_video, pred_seg, pred_score, tiou_thresholds):
    """One class; every argument in input order (the official per-label ``get_group``)."""
    ap = np.zeros(len(tiou_thresholds))
    if len(pred_score) == 0:
        return ap
    npos = float(len(gt_video))
    lock_gt = np.ones((len(tiou_thresholds), len(gt_video))) * -1
    sort_idx = pred_score.argsort()[::-1]
    pred_video, pred_seg = pred_video[sort_idx], pred_seg[sort_idx]
    tp = np.zeros((len(tiou_thresholds), len(sort_idx)))
    fp = np.zeros((len(tiou_thresholds), len(sort_idx)))
    for idx in range(len(sort_idx)):
        rows = np.flatnonzero(gt_video == pred_video[idx])  # ground_truth_gbvn.get_group, in order
        if len(rows) == 0:
            fp[:, idx] = 1
            continue
        tiou_arr = official_segment_iou(pred_seg[idx], gt_seg[rows])
        tiou_sorted_idx = tiou_arr.argsort()[::-1]
        for tidx, tiou_thr in enumerate(tiou_thresholds):
            for jdx in tiou_sorted_idx:
                if tiou_arr[jdx] < tiou_thr:
                    fp[tidx, idx] = 1
                    break
                if lock_gt[tidx, rows[jdx]] >= 0:
                    continue
                tp[tidx, idx] = 1
                lock_gt[tidx, rows[jdx]] = idx
                break
            if not tp[tidx, idx] and not fp[tidx, idx]:
                fp[tidx, idx] = 1
    tp_cumsum = np.cumsum(tp, axis=1).astype(float)
    fp_cumsum = np.cumsum(fp, axis=1).astype(float)
    recall_cumsum = tp_cumsum / npos
    precision_cumsum = tp_cumsum / (tp_cumsum + fp_cumsum)
    for tidx in range(len(tiou_thresholds)):
        ap[tidx] = official_interpolated_prec_rec(precision_cumsum[tidx, :], recall_cumsum[tidx, :])
    return ap


def official_per_class(gt, preds, thr):
    """``{class: [AP per threshold]}`` for the classes with ground truth, flattened as the official loader does.
    Predictions in videos without ground truth are left out (the official code counts them as false positives,
    zeetad ignores and counts them: a listed deviation)."""
    out = {}
    for c in sorted({a['label'] for v in gt.values() for a in v}):
        g = [(v, a['segment']) for v, items in gt.items() for a in items if a['label'] == c]
        p = [(v, q['segment'], q['score']) for v, items in preds.items() if v in gt for q in items if q['label'] == c]
        out[c] = official_ap(np.array([v for v, _ in g]), np.array([s for _, s in g], np.float64).reshape(-1, 2),
                             np.array([v for v, _, _ in p]), np.array([s for _, s, _ in p], np.float64).reshape(-1, 2),
                             np.array([x for _, _, x in p], np.float64), np.asarray(thr, np.float64))
    return out


def assert_official(gt, preds, thr):
    ours = evaluate(gt, preds, thr, deduplicate_gt=False)['per_class']
    for c, ap in official_per_class(gt, preds, thr).items():
        np.testing.assert_allclose(ours[c], ap, rtol=0, atol=1e-12, err_msg=c)


def test_equal_tiou_takes_the_instance_the_official_code_tries_first():
    # pred 1 has tIoU exactly 0.6 with both; which one it takes decides pred 2's fate.
    a, b = gt_('a', 0, 10), gt_('a', 5, 15)
    preds = {'v': [p_('a', 0.9, 2.5, 12.5), p_('a', 0.8, 0, 10)]}
    assert_official({'v': [a, b]}, preds, [0.5])
    assert_official({'v': [b, a]}, preds, [0.5])


def test_score_ties_ranked_as_the_official_code_ranks_them():
    gt = {'v': [gt_('a', 0, 10)]}
    for preds in ([p_('a', 0.5, 0, 10), p_('a', 0.5, 50, 60)], [p_('a', 0.5, 50, 60), p_('a', 0.5, 0, 10)]):
        assert_official(gt, {'v': preds}, [0.5])


def _tied_case(rng, n_videos, n_gt, n_pred):
    """Integer segments on a short axis (many equal tIoUs, rows longer than 16 instances) and 3 score values."""
    def seg():
        s = int(rng.integers(0, 12))
        return [float(s), float(s + rng.integers(1, 6))]
    gt = {f'v{v}': [gt_(str(rng.choice(['a', 'b'])), *seg()) for _ in range(int(rng.integers(1, n_gt)))]
          for v in range(n_videos)}
    preds = {f'v{v}': [p_(str(rng.choice(['a', 'b'])), float(rng.choice([0.1, 0.5, 0.9])), *seg())
                       for _ in range(int(rng.integers(0, n_pred)))] for v in range(n_videos)}
    return gt, preds


@pytest.mark.parametrize('seed', range(6))
def test_equals_official_semantics_on_many_ties(seed):
    rng = np.random.default_rng(seed)
    gt, preds = _tied_case(rng, n_videos=int(rng.integers(1, 6)), n_gt=40, n_pred=120)
    assert_official(gt, preds, [0.1, 0.3, 0.5, 0.6, 2 / 3, 0.75, 1.0])


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_videos=st.integers(1, 4), n_gt=st.integers(2, 25),
       n_pred=st.integers(1, 60))
def test_equals_official_semantics_property(seed, n_videos, n_gt, n_pred):
    gt, preds = _tied_case(np.random.default_rng(seed), n_videos, n_gt, n_pred)
    assert_official(gt, preds, [0.2, 1 / 3, 0.5, 0.6, 0.8])


def test_threshold_is_inclusive_and_official_anet_grid():
    gt = {'v': [gt_('a', 0, 10)]}
    assert evaluate(gt, {'v': [p_('a', 1.0, 0, 5)]}, [0.5, 0.51])['mAP'] == {'0.5': 1.0, '0.51': 0.0}
    # tIoU exactly 0.9 matches at the official 0.8999999999999999 threshold.
    res = evaluate(gt, {'v': [p_('a', 1.0, 0, 9)]}, ACTIVITYNET_TIOUS)
    assert res['mAP']['0.9'] == 1.0 and res['mAP']['0.95'] == 0.0
    assert res['average'] == pytest.approx(0.9, abs=1e-15)


def test_videos_without_predictions_still_count():
    gt = {'v1': [gt_('a', 0, 10)], 'v2': [gt_('a', 0, 10)], 'v3': []}
    res = evaluate(gt, {'v1': [p_('a', 1.0, 0, 10)]}, [0.5])
    assert res['average'] == 0.5 and res['num_videos'] == 3


def test_unknown_labels_and_videos_are_ignored_and_counted():
    gt = {'v1': [gt_('a', 0, 10)], 'v2': []}
    preds = {'v1': [p_('a', 0.9, 0, 10), p_('zzz', 0.95, 0, 10)], 'v2': [p_('a', 0.1, 0, 3)],
             'elsewhere': [p_('a', 1.0, 0, 10)] * 3}
    with pytest.warns(UserWarning, match='ignored 4 predictions'):
        res = evaluate_detections(gt, preds, [0.5])
    assert res['num_ignored_predictions'] == 4
    assert res['ignored_predictions'] == {'unknown_label': 1, 'unknown_video': 3, 'blocked_video': 0}
    assert res['average'] == 1.0  # the v2 false positive ranks below the true positive
    assert res['num_predictions'] == 2


def test_duplicate_ground_truth_counted_once_by_default():
    gt = {'v': [gt_('a', 0, 10), gt_('a', 0, 10)]}
    preds = {'v': [p_('a', 1.0, 0, 10)]}
    with pytest.warns(UserWarning, match='duplicate'):
        res = evaluate_detections(gt, preds, [0.5])
    assert res['average'] == 1.0 and res['num_duplicate_gt'] == 1 and res['num_gt'] == 1
    assert evaluate(gt, preds, [0.5], deduplicate_gt=False)['average'] == 0.5


def test_zero_length_segments_never_match_and_never_crash():
    gt = {'v': [gt_('a', 5, 5), gt_('a', 0, 10)]}
    preds = {'v': [p_('a', 0.9, 5, 5), p_('a', 0.8, 0, 10), p_('a', 0.7, 8, 3)]}
    res = evaluate(gt, preds, [0.5])
    # tp = 0, 1, 0 over npos 2: AP = 1/2 * 1/2
    assert res['average'] == 0.25 and res['num_zero_length_gt'] == 1


def test_classes_without_predictions_or_ground_truth():
    gt = {'v': [gt_('a', 0, 10), gt_('b', 0, 10)]}
    res = evaluate(gt, {'v': [p_('a', 1.0, 0, 10), p_('c', 1.0, 0, 10)]}, [0.5], classes=['a', 'b', 'c'])
    assert res['per_class'] == {'a': [1.0], 'b': [0.0], 'c': None}
    assert res['average'] == 0.5 and res['classes_without_gt'] == ['c']


def test_classes_restrict_ground_truth_but_keep_videos():
    gt = {'v1': [gt_('seen', 0, 10)], 'v2': [gt_('unseen', 0, 10)]}
    preds = {'v1': [p_('unseen', 0.9, 0, 10)], 'v2': [p_('unseen', 0.8, 0, 10)]}
    res = evaluate(gt, preds, [0.5], classes=['unseen'])
    assert res['num_gt'] == 1 and res['num_videos'] == 2
    assert res['average'] == 0.5  # the v1 prediction is a false positive ranked first


def test_blocked_videos_removed_from_both_sides():
    gt = {'v1': [gt_('a', 0, 10)], 'v2': [gt_('a', 0, 10)]}
    preds = {'v1': [p_('a', 1.0, 0, 10)], 'v2': [p_('a', 0.5, 50, 60)]}
    res = evaluate(gt, preds, [0.5], blocked_videos=['v2'])
    assert res['average'] == 1.0 and res['num_videos'] == 1
    assert res['ignored_predictions']['blocked_video'] == 1 and res['num_ignored_predictions'] == 0


def test_no_ground_truth_gives_nan_with_warning():
    with pytest.warns(UserWarning, match='no ground-truth'):
        res = evaluate_detections({'v': []}, {'v': [p_('a', 1.0, 0, 1)]}, [0.5], classes=['a'])
    assert math.isnan(res['average'])


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match='finite'):
        evaluate({'v': [gt_('a', 0, 1)]}, {'v': [p_('a', float('nan'), 0, 1)]}, [0.5])
    with pytest.raises(ValueError, match='start, end'):
        evaluate({'v': [gt_('a', 0, 1)]}, {'v': [p_('a', 1.0, 0, 1) | {'segment': [0, 1, 2]}]}, [0.5])
    with pytest.raises(ValueError, match='labels must lie'):
        average_precision_detection([0], [[0, 1]], [0], [[0, 1]], [1.0], [0.5], gt_labels=[0], pred_labels=[3],
                                    num_classes=2)


def test_array_api_single_class_and_string_videos():
    ap = average_precision_detection(np.array(['x', 'y']), [[0, 10], [0, 10]], np.array(['y', 'z', 'x']),
                                     [[0, 10], [0, 10], [0, 4]], [0.9, 0.8, 0.7], [0.3, 0.5])
    # 0.3: tp 1,0,1 -> (1 + 2/3) / 2; 0.5: tp 1,0,0 -> 1/2
    np.testing.assert_allclose(ap, [(1 + 2 / 3) / 2, 0.5], rtol=0, atol=1e-15)


def test_interpolated_ap_matches_official_formula():
    rng = np.random.default_rng(3)
    for _ in range(20):
        tp = rng.uniform(size=40) < 0.4
        npos = int(tp.sum()) + int(rng.integers(0, 5))
        if npos == 0:
            continue
        cum = np.cumsum(tp)
        prec = list(cum / np.arange(1, 41))
        rec = list(cum / npos)
        pos = np.flatnonzero(tp)
        got = interpolated_ap(np.zeros(len(pos), np.int64), pos, np.array([npos]), 1)[0]
        assert got == pytest.approx(loop_interpolated_ap(prec, rec), abs=1e-12)


def _random_case(rng, n_videos, n_classes, n_gt, n_pred, grid):
    classes = [f'c{i}' for i in range(n_classes)]

    def seg():
        s = rng.uniform(0, 60)
        e = s + rng.uniform(0, 15)
        return [round(s / grid) * grid, round(e / grid) * grid] if grid else [s, e]

    gt = {f'v{v}': [gt_(classes[rng.integers(n_classes)], *seg()) for _ in range(rng.integers(0, n_gt + 1))]
          for v in range(n_videos)}
    preds = {f'v{v}': [p_(classes[rng.integers(n_classes)], float(round(rng.uniform(), 1) if grid else rng.uniform()),
                          *seg()) for _ in range(rng.integers(0, n_pred + 1))] for v in range(n_videos + 1)}
    return gt, preds


def _assert_same(gt, preds, thr, **kw):
    fast = evaluate(gt, preds, thr, **kw)
    ref = loop_evaluate_detections(gt, preds, thr, **kw)
    assert fast['num_ignored_predictions'] == ref['num_ignored_predictions']
    for key, ref_val in zip(fast['mAP'], ref['mAP']):
        if math.isnan(ref_val):
            assert math.isnan(fast['mAP'][key])
        else:
            assert abs(fast['mAP'][key] - ref_val) <= 1e-9
    assert fast['per_class'].keys() == ref['per_class'].keys()
    for c, aps in ref['per_class'].items():
        if aps is None:
            assert fast['per_class'][c] is None
        else:
            assert np.max(np.abs(np.array(fast['per_class'][c]) - aps)) <= 1e-9


@pytest.mark.parametrize('grid', [None, 5.0, 1.0])
def test_equals_loop_reference_on_random_inputs(grid):
    rng = np.random.default_rng(0 if grid is None else int(grid))
    for _ in range(15):
        gt, preds = _random_case(rng, n_videos=int(rng.integers(1, 12)), n_classes=int(rng.integers(1, 5)),
                                 n_gt=6, n_pred=25, grid=grid)
        _assert_same(gt, preds, [0.1, 0.3, 0.5, 0.7, 0.9], deduplicate_gt=bool(rng.integers(2)))


# Coarse integer grids and few videos/labels make equal tIoUs, equal scores,
# zero-length and duplicate segments frequent.
segment = st.tuples(st.integers(0, 10), st.integers(0, 5)).map(lambda t: [float(t[0]), float(t[0] + t[1])])
gt_item = st.tuples(st.sampled_from(['a', 'b']), st.sampled_from('xy'), segment)
pred_item = st.tuples(st.sampled_from(['a', 'b', 'c']), st.sampled_from('xyz'),
                      st.sampled_from([0.1, 0.5, 0.5, 0.9, 0.25]), segment)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gts=st.lists(gt_item, max_size=12), preds=st.lists(pred_item, max_size=40),
       thr=st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.6, 2 / 3, 0.75, 1.0]), min_size=1, max_size=4, unique=True),
       dedup=st.booleans())
def test_equals_loop_reference_property(gts, preds, thr, dedup):
    gt = {'a': [], 'b': []}
    for v, c, s in gts:
        gt[v].append(gt_(c, *s))
    pr: dict = {}
    for v, c, score, s in preds:
        pr.setdefault(v, []).append(p_(c, score, *s))
    _assert_same(gt, pr, thr, deduplicate_gt=dedup)


@settings(max_examples=200, deadline=None)
@given(gts=st.lists(segment, max_size=6), preds=st.lists(st.tuples(st.sampled_from([0.2, 0.5, 0.8]), segment),
                                                        max_size=12),
       thr=st.sampled_from([0.2, 1 / 3, 0.5, 0.6]))
def test_equals_loop_reference_one_video_property(gts, preds, thr):
    # Dense single-video cases: many instances compete for the same prediction.
    _assert_same({'v': [gt_('a', *s) for s in gts]}, {'v': [p_('a', sc, *s) for sc, s in preds]}, [thr],
                 deduplicate_gt=False)


def test_many_score_ties_ranked_as_the_official_code_ranks_them():
    # Hundreds of equal scores: numpy's unstable sort reorders them, and so must we.
    rng = np.random.default_rng(11)
    for _ in range(5):
        gt = {f'v{i}': [gt_('a', 0, 10)] for i in range(100)}
        preds = {f'v{i}': [p_('a', float(rng.choice([0.5, 0.7])), *([0, 10] if rng.uniform() < 0.5 else [30, 40]))]
                 for i in range(300)}
        _assert_same(gt, preds, [0.5])
        assert_official(gt, preds, [0.5])


def test_single_class_loop_reference_agrees_with_array_api():
    rng = np.random.default_rng(7)
    gt = [(int(rng.integers(5)), float(s), float(s + rng.uniform(1, 9))) for s in rng.uniform(0, 50, 30)]
    preds = [(int(rng.integers(6)), float(s), float(s + rng.uniform(1, 9)), float(rng.uniform()))
             for s in rng.uniform(0, 50, 200)]
    thr = [0.3, 0.5, 0.7]
    ref = loop_average_precision(gt, preds, thr)
    got = average_precision_detection([g[0] for g in gt], [g[1:] for g in gt], [p[0] for p in preds],
                                      [p[1:3] for p in preds], [p[3] for p in preds], thr)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
