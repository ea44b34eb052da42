"""Figures: timelines, precision-recall curves and per-class AP render valid PNGs of the expected size, and
the PR curves agree exactly with the mAP evaluator."""
import numpy as np
import pytest

from zeetad.evaluation import evaluate_detections
from zeetad.evaluation.ranking import curve_ap
from zeetad.visualization import (PR_SIZE_PX, class_ap_size_px, mean_precision_curve,
                                  plot_class_ap, plot_pr_curves, plot_timeline, png_size, precision_recall,
                                  timeline_classes, timeline_size_px)

pytestmark = pytest.mark.filterwarnings("ignore:ignored 1 predictions", "ignore:.*duplicate ground-truth")

CLASSES = ['HighJump', 'PoleVault', 'a person falling']


def random_run(seed=0, videos=6, per_video=5):
    """Ground truth and noisy predictions, with exact duplicate instances, tied scores and unknown videos."""
    rng = np.random.default_rng(seed)
    gt, preds = {}, {}
    for v in range(videos):
        vid = f'v{v}'
        gt[vid], preds[vid] = [], []
        for _ in range(per_video):
            c = CLASSES[rng.integers(3)]
            s = float(rng.uniform(0, 90))
            gt[vid].append(dict(label=c, segment=[s, s + float(rng.uniform(2, 8))]))
            for _ in range(3):
                label = c if rng.random() < 0.7 else CLASSES[rng.integers(3)]
                jitter = rng.normal(0, 1.5, 2)
                preds[vid].append(dict(label=label, score=float(np.round(rng.random(), 1)),  # many ties
                                       segment=[s + jitter[0], gt[vid][-1]['segment'][1] + jitter[1]]))
        gt[vid].append(dict(gt[vid][0]))  # an exact duplicate: counted once by the evaluator
    preds['not_evaluated'] = [dict(label='HighJump', score=0.9, segment=[0, 5])]
    return gt, preds


def assert_png(path, size):
    assert png_size(path) == size
    with open(path, 'rb') as f:
        assert len(f.read()) > 2000  # something was drawn


def test_timeline_with_ground_truth_and_curves(tmp_path):
    gt, preds = random_run()
    rows = timeline_classes(preds['v0'], gt['v0'], 0.05)
    assert rows[:len({a['label'] for a in gt['v0']})] == list(dict.fromkeys(
        a['label'] for a in sorted(gt['v0'], key=lambda a: a['segment'][0])))
    t = np.arange(200) / 2.0
    curves = {'HighJump': (t, np.sin(t)), 'HighJump (end)': (t, np.cos(t)), 'actionness': (t, t / 100)}
    path = plot_timeline(str(tmp_path / 'a' / 'v0.png'), preds['v0'], gt['v0'], duration=100.0, video_id='v0',
                         curves=curves)
    assert_png(path, timeline_size_px(len(rows), True))


@pytest.mark.parametrize('num', [0, 1, 12])
def test_timeline_sizes_without_ground_truth(tmp_path, num):
    preds = [dict(label=f'class {i}', score=1.0 - i / 20, segment=[i, i + 3.0]) for i in range(num)]
    path = plot_timeline(str(tmp_path / 't.png'), preds, None, video_id='x', width_px=900)
    assert_png(path, timeline_size_px(num, False, 900))
    assert timeline_size_px(num, False, 900)[1] == timeline_size_px(max(num, 1), False)[1]


def test_timeline_fixed_rows_and_threshold():
    preds = [dict(label='b', score=0.01, segment=[0, 1]), dict(label='c', score=0.5, segment=[0, 1]),
             dict(label='d', score=0.9, segment=[2, 3])]
    assert timeline_classes(preds, [dict(label='a', segment=[5, 6])], 0.05) == ['a', 'd', 'c']


def test_pr_curves_reproduce_the_evaluator_ap_exactly():
    gt, preds = random_run(seed=3, videos=8)
    thr = (0.3, 0.5, 0.7)
    result = evaluate_detections(gt, preds, thr, classes=CLASSES)
    pr = precision_recall(gt, preds, thr, CLASSES)
    assert pr['num_gt'] == {c: sum(a['label'] == c for v in gt for a in gt[v][:-1]) for c in CLASSES}
    for j, key in enumerate(pr['curves']):
        for c in CLASSES:
            curve = pr['curves'][key][c]
            assert np.all(np.diff(curve['scores']) <= 0)
            assert np.all(np.diff(curve['recall']) >= 0) and curve['recall'][-1] <= 1.0
            assert curve_ap(curve['precision'], curve['recall']) == pytest.approx(
                result['per_class'][c][j], abs=1e-12)


def test_mean_precision_curve_by_hand():
    gt = {'v': [dict(label='a', segment=[0, 10]), dict(label='a', segment=[20, 30])]}
    preds = {'v': [dict(label='a', score=0.9, segment=[0, 10]), dict(label='a', score=0.8, segment=[50, 60]),
                   dict(label='a', score=0.7, segment=[20, 30])]}
    pr = precision_recall(gt, preds, [0.5])
    curve = pr['curves']['0.5']['a']
    np.testing.assert_allclose(curve['precision'], [1.0, 0.5, 2 / 3])
    np.testing.assert_allclose(curve['recall'], [0.5, 0.5, 1.0])
    mean = mean_precision_curve(pr, recall_levels=5)  # recall 0, .25, .5, .75, 1
    np.testing.assert_allclose(mean['precision']['0.5'], [1.0, 1.0, 1.0, 2 / 3, 2 / 3])
    assert curve_ap(curve['precision'], curve['recall']) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_pr_and_class_ap_figures(tmp_path):
    gt, preds = random_run(seed=1)
    thr = (0.3, 0.4, 0.5, 0.6, 0.7)
    pr = precision_recall(gt, preds, thr, CLASSES + ['never annotated'])
    assert_png(plot_pr_curves(pr, str(tmp_path / 'pr.png')), PR_SIZE_PX)
    assert_png(plot_pr_curves(pr, str(tmp_path / 'pr_a.png'), class_name='HighJump'), PR_SIZE_PX)
    result = evaluate_detections(gt, preds, thr, classes=CLASSES + ['never annotated'])
    assert_png(plot_class_ap(result, str(tmp_path / 'ap.png')), class_ap_size_px(3))
