"""Naming metrics of the benchmark tool on hand-made detections."""
import math

import pytest

from zeetad.evaluation.naming import auroc, precision_at, presence_auroc, right_name_share

GT = {'v1': [dict(label='a', segment=[0.0, 10.0]), dict(label='b', segment=[20.0, 30.0])],
      'v2': [dict(label='a', segment=[5.0, 9.0])], 'v3': []}


def test_right_name_share_reads_the_best_scored_covering_detection():
    dets = {'v1': [dict(label='b', score=0.9, segment=[0.0, 9.0]),   # covers a, wrong name, best scored
                   dict(label='a', score=0.8, segment=[0.0, 10.0]),
                   dict(label='b', score=0.7, segment=[21.0, 30.0])],  # covers b, right
            'v2': [dict(label='a', score=0.2, segment=[50.0, 60.0])]}  # covers nothing
    r = right_name_share(GT, dets)
    assert (r['covered'], r['instances']) == (2, 3) and r['share'] == pytest.approx(0.5)
    assert right_name_share(GT, dets, classes=['b'])['share'] == pytest.approx(1.0)


def test_precision_counts_detections_above_the_score_that_cover_their_own_name():
    dets = {'v1': [dict(label='a', score=0.6, segment=[1.0, 10.0]), dict(label='a', score=0.9, segment=[20.0, 30.0]),
                   dict(label='a', score=0.4, segment=[0.0, 10.0])],
            'v3': [dict(label='b', score=0.5, segment=[0.0, 1.0])]}
    r = precision_at(GT, dets, score=0.5)
    assert r['detections'] == 3 and r['precision'] == pytest.approx(1 / 3)
    assert math.isnan(precision_at(GT, dets, score=0.95)['precision'])


def test_auroc_and_presence():
    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    assert math.isnan(auroc([0.3], [True]))
    runs = {'a': {'v1': [dict(label='a', score=0.9, segment=[0, 1])], 'v2': [dict(label='a', score=0.3, segment=[0, 1])],
                  'v3': [dict(label='a', score=0.4, segment=[0, 1])]},
            'b': {'v1': [dict(label='b', score=0.8, segment=[0, 1])]}}
    # positives a@v1 0.9, a@v2 0.3, b@v1 0.8; negatives a@v3 0.4, b@v2 0, b@v3 0: 8 of 9 pairs ordered
    assert presence_auroc(GT, runs) == pytest.approx(8 / 9)
