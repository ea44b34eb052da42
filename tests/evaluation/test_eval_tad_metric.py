"""TADMetric: registry build, mmengine Evaluator, files, partition invariance."""
import csv
import json
import os
import warnings

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

from zeetad.evaluation import TADMetric, evaluate_detections
from zeetad.registry import METRICS

CLASSES = ['jump', 'run', 'swim']


def make_data(seed=0, n_videos=6):
    rng = np.random.default_rng(seed)
    gt, durations, windows = {}, {}, []
    for v in range(n_videos):
        vid = f'video_{v}'
        durations[vid] = 100.0
        gt[vid] = [{'label': CLASSES[rng.integers(3)], 'segment': [float(s), float(s + 8)]}
                   for s in rng.uniform(0, 90, rng.integers(0, 4))]
        for w0 in (0.0, 40.0):  # two overlapping windows per video
            s = rng.uniform(w0 - 5, w0 + 60, 30)
            windows.append({'video_id': vid, 'segments': torch.tensor(np.stack([s, s + rng.uniform(2, 12, 30)], 1)),
                            'scores': torch.tensor(rng.uniform(size=30)),
                            'labels': torch.tensor(rng.integers(0, 3, 30))})
        for a in gt[vid]:  # plus a good detection per instance
            windows[-1]['segments'] = torch.cat([windows[-1]['segments'], torch.tensor([a['segment']])])
            windows[-1]['scores'] = torch.cat([windows[-1]['scores'], torch.tensor([0.95])])
            windows[-1]['labels'] = torch.cat([windows[-1]['labels'], torch.tensor([CLASSES.index(a['label'])])])
    gt['video_empty'] = []
    return gt, durations, windows


def meta(gt, durations):
    return {'classes': CLASSES, 'ground_truth': gt, 'durations': durations}


def run_metric(windows, gt, durations, batch=3, **kw):
    metric = TADMetric(**kw)
    metric.dataset_meta = meta(gt, durations)
    for i in range(0, len(windows), batch):
        metric.process({}, windows[i:i + batch])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return metric, metric.evaluate(len(windows))


def test_metric_keys_and_values(tmp_path):
    gt, dur, windows = make_data()
    out_file = str(tmp_path / 'sub' / 'preds.json')
    metric, res = run_metric(windows, gt, dur, out_file=out_file, result_dir=str(tmp_path / 'res'),
                             plot_per_class=True, tiou_thresholds=(0.3, 0.5, 0.7))
    assert list(res) == ['mAP@0.30', 'mAP@0.50', 'mAP@0.70', 'average_mAP']
    assert all(0.0 <= v <= 1.0 for v in res.values())
    assert res['average_mAP'] == pytest.approx(np.mean([res['mAP@0.30'], res['mAP@0.50'], res['mAP@0.70']]))
    # the written submission re-evaluates to the same numbers
    sub = json.load(open(out_file))
    assert set(sub) == {'version', 'results', 'external_data'}
    again = evaluate_detections(gt, sub['results'], (0.3, 0.5, 0.7), classes=CLASSES)
    assert again['average'] == res['average_mAP']
    assert not [f for f in os.listdir(tmp_path / 'sub') if f.endswith('.tmp')]
    rows = list(csv.reader(open(tmp_path / 'res' / 'tad_map.csv')))
    assert rows[0] == ['class', '0.3', '0.5', '0.7', 'average'] and rows[1][0] == 'mAP'
    assert float(rows[1][-1]) == pytest.approx(res['average_mAP'])
    assert json.load(open(tmp_path / 'res' / 'tad_map.json'))['average'] == res['average_mAP']
    assert (tmp_path / 'res' / 'tad_map_per_class.png').read_bytes()[:4] == b'\x89PNG'
    assert metric.last_result['num_videos'] == len(gt)


def test_perfect_detections_give_one():
    gt, dur, _ = make_data(1)
    windows = [{'video_id': v, 'segments': np.array([a['segment'] for a in anns]).reshape(-1, 2),
                'scores': np.ones(len(anns)), 'labels': np.array([CLASSES.index(a['label']) for a in anns])}
               for v, anns in gt.items()]
    _, res = run_metric(windows, gt, dur, nms=dict(method='hard', iou_threshold=0.99))
    assert res['average_mAP'] == 1.0


def test_order_and_partition_invariance(tmp_path):
    gt, dur, windows = make_data(2)
    _, ref = run_metric(windows, gt, dur, out_file=str(tmp_path / 'a.json'))
    rng = np.random.default_rng(0)
    shuffled = [windows[i] for i in rng.permutation(len(windows))]
    # split one window into two halves, as another rank partitioning might
    w = shuffled.pop(0)
    shuffled += [{k: (v[:10] if k != 'video_id' else v) for k, v in w.items()},
                 {k: (v[10:] if k != 'video_id' else v) for k, v in w.items()}]
    _, res = run_metric(shuffled, gt, dur, batch=5, out_file=str(tmp_path / 'b.json'))
    assert res == ref
    assert (tmp_path / 'a.json').read_text() == (tmp_path / 'b.json').read_text()


def test_build_from_registry_and_evaluator():
    gt, dur, windows = make_data(3)
    cfg = dict(type='TADMetric', tiou_thresholds=[0.5], nms=dict(sigma=0.7), prefix='tad')
    metric = METRICS.build(cfg)
    assert isinstance(metric, TADMetric) and metric.nms['sigma'] == 0.7 and metric.nms['method'] == 'gaussian'
    with DefaultScope.overwrite_default_scope('zeetad'):
        evaluator = Evaluator(dict(cfg))
    evaluator.dataset_meta = meta(gt, dur)
    evaluator.process(windows, {})
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        res = evaluator.evaluate(len(windows))
    assert set(res) == {'tad/mAP@0.50', 'tad/average_mAP'}


def test_missing_meta_raises():
    metric = TADMetric()
    metric.dataset_meta = {'classes': CLASSES}
    metric.results = []
    with pytest.raises(KeyError, match='ground_truth'):
        metric.compute_metrics([])


def test_windows_carrying_label_names_are_named_by_them(tmp_path):
    # Labels index the names the model scored (open vocabulary), not dataset_meta['classes'].
    gt = {'v': [{'label': 'run', 'segment': [10.0, 20.0]}]}
    names = ('a person falling', 'run', 'juggling', 'swim')  # more names than CLASSES has, other order
    windows = [{'video_id': 'v', 'segments': np.array([[10.0, 20.0], [40.0, 50.0]]), 'scores': np.array([0.9, 0.8]),
                'labels': np.array([1, 2]), 'label_names': names}]
    out = tmp_path / 'preds.json'
    _, res = run_metric(windows, gt, {'v': 100.0}, out_file=str(out), tiou_thresholds=(0.5,))
    assert res['average_mAP'] == 1.0
    dets = json.load(open(out))['results']['v']
    assert [d['label'] for d in dets] == ['run', 'juggling']
    bad = [dict(windows[0], labels=np.array([1, 4]))]
    with pytest.raises(ValueError, match="video 'v'.*4 class names"):
        run_metric(bad, gt, {'v': 100.0})
    with pytest.raises(ValueError, match="video 'v'.*3 class names"):  # no names: labels index the classes
        run_metric([{k: v for k, v in bad[0].items() if k != 'label_names'}], gt, {'v': 100.0})


def test_video_context_power_reaches_the_merge():
    windows = [{'video_id': 'v', 'segments': np.array([[0.0, 10.0], [20.0, 30.0]]), 'scores': np.array([0.8, 0.4]),
                'labels': np.array([0, 1])}]
    metric = TADMetric(video_context_power=2.0, nms=dict(method=None))
    np.testing.assert_allclose(metric.merge(windows)['v']['scores'], [0.8, 0.4 * 0.5 ** 2])
    np.testing.assert_allclose(TADMetric(nms=dict(method=None)).merge(windows)['v']['scores'], [0.8, 0.4])
    with pytest.raises(ValueError, match='test_evaluator.video_context_power'):
        TADMetric(video_context_power=-0.5)
