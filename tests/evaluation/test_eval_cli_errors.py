"""tools/eval_detections.py on malformed input: one clear error naming the file and the video."""
import copy
import json
import os
import sys

import numpy as np
import pytest

from zeetad.evaluation import annotations
from zeetad.evaluation.annotations import load_prediction_table
from zeetad.evaluation.prediction_table import table_from_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import eval_detections  # noqa: E402

GT = {'version': 'x', 'database': {
    'v1': {'subset': 'Test', 'duration': 50.0, 'annotations': [{'label': 'a', 'segment': [0, 10]},
                                                               {'label': 'b', 'segment': [20, 30]}]},
    'v2': {'subset': 'Test', 'duration': 40.0, 'annotations': [{'label': 'b', 'segment': [5, 9]}]}}}
PRED = {'version': 'x', 'external_data': {}, 'results': {
    'v1': [{'label': 'a', 'score': 0.9, 'segment': [0, 10]}, {'label': 'b', 'score': 0.8, 'segment': [20, 30]}],
    'v2': [{'label': 'b', 'score': 0.7, 'segment': [5, 9]}, {'label': 'a', 'score': 0.6, 'segment': [1, 2]}]}}


def _pred(edit):
    data = copy.deepcopy(PRED)
    edit(data['results'])
    return data


def _gt(edit):
    data = copy.deepcopy(GT)
    edit(data['database'])
    return data


def _set(path, value):
    def edit(d):
        *keys, last = path
        for k in keys:
            d = d[k]
        if value is KeyError:
            del d[last]
        else:
            d[last] = value
    return edit


# (GT content, PRED content, file named in the message, further text the message must contain)
CASES = {
    'pred empty file': (GT, '', 'pred.json', 'empty file'),
    'pred malformed json': (GT, '{"results": {"v1": [', 'pred.json', 'not valid JSON: '),
    'pred results not an object': (GT, {'results': [1, 2]}, 'pred.json', 'expected {"results"'),
    'pred without results': (GT, {'version': 'x', 'external_data': {}}, 'pred.json', 'no "results" key'),
    'pred video not a list': (GT, _pred(_set(['v2'], {'label': 'a'})), 'pred.json', "'v2'"),
    'pred NaN score': (GT, _pred(_set(['v2', 1, 'score'], float('nan'))), 'pred.json',
                       "video 'v2', prediction 1: score is not finite"),
    'pred missing score': (GT, _pred(_set(['v2', 1, 'score'], KeyError)), 'pred.json', 'v2'),
    'pred null score': (GT, _pred(_set(['v2', 0, 'score'], None)), 'pred.json', 'v2'),
    'pred string score': (GT, _pred(_set(['v1', 1, 'score'], 'high')), 'pred.json', 'v1'),
    'pred missing label': (GT, _pred(_set(['v2', 0, 'label'], KeyError)), 'pred.json', 'v2'),
    'pred segment of 3': (GT, _pred(_set(['v1', 1, 'segment'], [1, 2, 3])), 'pred.json', 'v1'),
    'pred segment scalar': (GT, _pred(_set(['v2', 0, 'segment'], 4.0)), 'pred.json', 'v2'),
    'pred segment infinite': (GT, _pred(_set(['v2', 0, 'segment'], [1.0, float('inf')])), 'pred.json',
                              "video 'v2', prediction 0: segment is not finite"),
    'gt empty file': ('', PRED, 'gt.json', 'empty file'),
    'gt malformed json': ('{"database": }', PRED, 'gt.json', 'not valid JSON: '),
    'gt NaN segment': (_gt(_set(['v2', 'annotations', 0, 'segment'], [float('nan'), 9])), PRED, 'gt.json',
                       "video 'v2', annotation 0: segment is not finite"),
    'gt missing label': (_gt(_set(['v1', 'annotations', 1, 'label'], KeyError)), PRED, 'gt.json',
                         "video 'v1', annotation 1: missing or non-string \"label\""),
    # json keeps the last entry of a repeated key: the first list or annotations vanished without a word
    'gt repeated video': (json.dumps(GT).replace('"database": {', '"database": {"v2": {"subset": "Test", '
                                                 '"duration": 40.0, "annotations": []}, ', 1), PRED, 'gt.json',
                          "video 'v2' has more than one entry"),
    'pred repeated video': (GT, json.dumps(PRED).replace('"results": {', '"results": {"v2": [{"label": "b", '
                                                         '"score": 0.9, "segment": [5, 9]}], ', 1), 'pred.json',
                            "video 'v2' has more than one list of predictions"),
    # scored as a miss: mAP 50 instead of 100, exit 0
    'pred segment backwards': (GT, _pred(_set(['v1', 0, 'segment'], [61, 50])), 'pred.json',
                               "video 'v1', prediction 0: segment ends before it starts ([61.0, 50.0])"),
    'gt segment backwards': (_gt(_set(['v2', 'annotations', 0, 'segment'], [9, 5])), PRED, 'gt.json',
                             "video 'v2', annotation 0: segment ends before it starts: [9, 5]"),
    'pred truncated': (GT, json.dumps(PRED)[:-40], 'pred.json', 'truncated or not valid JSON: its '),
    'gt truncated': (json.dumps(GT)[:-3], PRED, 'gt.json', 'truncated or not valid JSON: its '),
    'gt segment of 1': (_gt(_set(['v2', 'annotations', 0, 'segment'], [5])), PRED, 'gt.json',
                        "video 'v2', annotation 0: segment must be [start, end]"),
}


def _write(tmp_path, gt, pred):
    paths = []
    for name, content in (('gt.json', gt), ('pred.json', pred)):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        paths.append(str(path))
    return paths


@pytest.mark.parametrize('fast', [True, False], ids=['msgspec', 'json'])
@pytest.mark.parametrize('case', list(CASES))
def test_malformed_input_names_file_and_video(case, fast, tmp_path, monkeypatch):
    if not fast:
        monkeypatch.setattr(annotations, 'table_from_bytes', lambda raw, source: None)
    gt, pred, file_name, text = CASES[case]
    gt_path, pred_path = _write(tmp_path, gt, pred)
    with pytest.raises(SystemExit) as err:
        eval_detections.main([gt_path, pred_path, '--subset', 'Test'])
    message = str(err.value)
    assert message.startswith('eval_detections: error: ') and os.path.join(str(tmp_path), file_name) in message
    assert text in message


@pytest.mark.parametrize('classes, text', [
    ('b\na\nb\n', "duplicate class names ['b']"),
    ('a\nB\n', "class names not in the ground truth"),  # was silently dropped: mAP of 'a' alone
    ('a\nc\nbb\n', "'c', 'bb' (did you mean 'b'?)"),
])
def test_bad_class_lists(classes, text, tmp_path):
    gt_path, pred_path = _write(tmp_path, GT, PRED)
    cls = tmp_path / 'split.list'
    cls.write_text(classes)
    with pytest.raises(SystemExit) as err:
        eval_detections.main([gt_path, pred_path, '--classes', str(cls)])
    assert str(cls) in str(err.value) and text in str(err.value)
    if classes == 'a\nB\n':
        assert "'B' (did you mean 'b'?)" in str(err.value) and 'gt.json' in str(err.value)


@pytest.mark.parametrize('tiou', ['1.5', '-1', '0', 'nan'])
def test_tiou_outside_unit_interval_is_rejected(tiou, tmp_path, capsys):
    gt_path, pred_path = _write(tmp_path, GT, PRED)
    with pytest.raises(SystemExit) as err:
        eval_detections.main([gt_path, pred_path, '--tiou', '0.5', tiou])
    assert err.value.code == 2 and f'tIoU thresholds must lie in (0, 1], got {tiou}' in capsys.readouterr().err


def test_fast_and_json_paths_give_the_same_table(tmp_path):
    rng = np.random.default_rng(0)
    results = {f'v{i}': [{'label': f'c{rng.integers(5)}', 'score': float(rng.uniform()),
                          'segment': [float(s), float(s + rng.uniform(0, 9))]}
                         for s in rng.uniform(0, 50, rng.integers(0, 20))] for i in range(30)}
    results['v3'][0]['score'] = 1  # an int score is a number too
    path = tmp_path / 'p.json'
    for data in ({'version': 'x', 'results': results}, results):  # official and bare layouts
        path.write_text(json.dumps(data))
        fast = table_from_bytes(path.read_bytes(), str(path))
        slow = annotations.table_from_results(json.loads(path.read_text()), str(path))
        assert fast is not None and fast.videos == slow.videos == list(results) and fast.labels == slow.labels
        for key in ('counts', 'scores', 'segments'):
            np.testing.assert_array_equal(getattr(fast, key), getattr(slow, key))
        assert load_prediction_table(str(path)).to_results() == {
            v: [dict(p, score=float(p['score'])) for p in ps] for v, ps in results.items()}


def test_label_named_score_is_not_a_repeated_video(tmp_path):
    """The repeated-video check is triggered by counting '"score"' in the file; a label spelled so is fine."""
    pred = _pred(_set(['v1', 0, 'label'], 'score'))
    path = tmp_path / 'pred.json'
    path.write_text(json.dumps(pred))
    assert load_prediction_table(str(path)).labels[0] == 'score'


def test_a_huge_truncated_file_is_named_without_reading_it(tmp_path):
    """2 GiB (sparse: no disk used) whose JSON stops early: named after reading a few KiB (was read whole,
    22 s and 4.2 GB of memory, before the parser said so)."""
    import time
    gt_path, pred_path = _write(tmp_path, GT, PRED)
    with open(pred_path, 'r+b') as f:
        f.truncate(2 ** 31)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as err:
        eval_detections.main([gt_path, pred_path, '--subset', 'Test'])
    assert time.perf_counter() - start < 1.0
    assert str(err.value) == (f"eval_detections: error: {pred_path}: truncated or not valid JSON: its "
                              f"2,147,483,648 bytes end with {bytes(20)!r}, not the closing '}}' (a copy or write "
                              "that did not finish?)")
