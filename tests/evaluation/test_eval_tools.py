"""CLI tools, loaders and report helpers."""
import json
import os
import subprocess
import sys

import pytest

from zeetad.evaluation.annotations import (ground_truth_from_database, load_ground_truth, load_prediction_table,
                                          load_predictions)
from zeetad.evaluation.detection_map import evaluate_detections
from zeetad.evaluation.report import format_table, table_csv

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import eval_detections  # noqa: E402
from benchmarks import benchmark_eval, benchmark_nms  # noqa: E402

DATABASE = {
    'v1': {'subset': 'Test', 'duration': 50.0,
           'annotations': [{'label': 'a', 'segment': [0, 10]}, {'label': 'b', 'segment': [20, 30]}]},
    'v2': {'subset': 'Test', 'duration': 40.0, 'annotations': [{'label': 'b', 'segment': [5, 9]}]},
    'v3': {'subset': 'Validation', 'duration': 40.0, 'annotations': [{'label': 'a', 'segment': [0, 1]}]},
}
PREDS = {'version': 'x', 'external_data': {},
         'results': {'v1': [{'label': 'a', 'score': 0.9, 'segment': [0, 10]},
                            {'label': 'b', 'score': 0.8, 'segment': [40, 50]}],
                     'v2': [{'label': 'b', 'score': 0.7, 'segment': [5, 9]}],
                     'v3': [{'label': 'a', 'score': 0.99, 'segment': [0, 1]}]}}


@pytest.fixture
def files(tmp_path):
    gt_path, pred_path, cls_path = tmp_path / 'gt.json', tmp_path / 'pred.json', tmp_path / 'split.list'
    gt_path.write_text(json.dumps({'version': 'x', 'database': DATABASE}))
    pred_path.write_text(json.dumps(PREDS))
    cls_path.write_text('b\n\n# comment\n')
    return str(gt_path), str(pred_path), str(cls_path)


def test_loaders(files):
    gt, classes, durations = load_ground_truth(files[0], 'test')
    assert set(gt) == {'v1', 'v2'} and classes == ['a', 'b'] and durations == {'v1': 50.0, 'v2': 40.0}
    gt, classes, _ = load_ground_truth(files[0], 'Test', files[2])
    assert classes == ['b'] and gt['v1'] == [{'label': 'b', 'segment': [20.0, 30.0]}]
    assert ground_truth_from_database(DATABASE, None, ['a'])[0]['v2'] == []
    assert load_predictions(files[1]) == PREDS['results']


def test_eval_cli(files, tmp_path, capsys):
    out = tmp_path / 'out' / 'result.json'
    res = eval_detections.main([files[0], files[1], '--subset', 'Test', '--tiou', '0.3', '0.5', '--out', str(out),
                                '--per-class'])
    printed = capsys.readouterr().out
    assert '| mAP' in printed and '| a ' in printed
    # a: AP 1; b: tp 0,1 over 2 instances, prec 0, .5 -> AP .25
    assert res['average'] == pytest.approx(0.625, abs=1e-15)
    saved = json.loads(out.read_text())
    assert saved['mAP'] == {'0.3': 0.625, '0.5': 0.625} and saved['per_class']['b'] == [0.25, 0.25]
    assert saved['details']['num_ignored_predictions'] == 1  # v3 is not a Test video
    zs = eval_detections.main([files[0], files[1], '--subset', 'Test', '--classes', files[2], '--tiou', '0.5',
                               '--result-dir', str(tmp_path / 'rd')])
    assert zs['per_class'] == {'b': [0.25]} and zs['num_ignored_predictions'] == 2
    assert (tmp_path / 'rd' / 'tad_map.csv').exists()


def _printed_map_row(stdout: str) -> list[float]:
    row = next(line for line in stdout.splitlines() if line.startswith('| mAP'))
    return [float(x) for x in row.strip('|').split('|')[1:]]


def test_eval_cli_as_script(files):
    """The script run by a user, without torch: exact counts and every printed number."""
    code = ('import runpy, sys\nsys.argv = sys.argv[1:]\ntry:\n    runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'except SystemExit as exc:\n    print("exit status:", exc.code)\n'
            'print("torch imported:", "torch" in sys.modules)')
    proc = subprocess.run([sys.executable, '-c', code, os.path.join(ROOT, 'tools', 'eval_detections.py'), files[0],
                           files[1], '--subset', 'Validation', '--anet'],
                          capture_output=True, text=True, cwd=ROOT, check=True, env={**os.environ, 'PYTHONPATH': ROOT})
    out = proc.stdout
    assert out.splitlines()[0] == '1 videos, 1 instances, 1 classes, 1 predictions scored, 3 ignored'
    assert _printed_map_row(out) == [100.0] * 11  # 10 thresholds + average
    assert 'exit status: 0' in out and 'torch imported: False' in out
    assert 'ignored 3 predictions (unscored label: 0, video not evaluated: 3)' in proc.stderr


def test_eval_cli_prints_the_numbers_it_saves(files, tmp_path, capsys):
    out = tmp_path / 'r.json'
    eval_detections.main([files[0], files[1], '--subset', 'Test', '--tiou', '0.3', '0.5', '0.7', '--out', str(out)])
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == '2 videos, 3 instances, 2 classes, 3 predictions scored, 1 ignored'
    # a: AP 1; b: ranked tp 0, 1 of 2 instances -> AP 0.25; mean 0.625 at every threshold
    assert _printed_map_row(printed) == [62.5, 62.5, 62.5, 62.5]
    assert json.loads(out.read_text())['mAP'] == {'0.3': 0.625, '0.5': 0.625, '0.7': 0.625}


def test_report_helpers(tmp_path):
    result = {'mAP': {'0.5': 0.5}, 'average': 0.5, 'per_class': {'a': [1.0], 'b': [0.0], 'c': None}}
    table = format_table(result, per_class=True)
    assert '50.00' in table and '| c ' in table
    assert table_csv(result).splitlines() == ['class,0.5,average', 'mAP,0.5,0.5', 'a,1.0,1.0', 'b,0.0,0.0']


def test_benchmark_smoke(capsys):
    rows = benchmark_eval.main(['--videos', '30', '--ref-videos', '10', '--repeat', '1'])
    out = capsys.readouterr().out
    assert 'speed-up' in out and '|vectorised - loop| on the subset = 0.0e+00' in out
    assert 'both paths print the same mAP as evaluate_detections on dicts: True' in out
    assert len(rows) == 3 and rows[0][1] > 0 and rows[0][2] > 0
    assert [r[0] for r in rows[1:]] == ['eval_detections.py, msgspec decoding', 'eval_detections.py, json decoding']
    assert all(r[1] > 0 and r[2] > 0 for r in rows[1:])


def test_nms_benchmark_smoke(capsys):
    rows = benchmark_nms.main(['--videos', '3', '--ref-videos', '3', '--repeat', '1'])
    assert len(rows) == 5 and all(r['batched'] > 0 and r['loop'] > 0 for r in rows)
    # Both zeetad paths reproduce the loop reference on every setting.
    assert all(r['diff_batched'] <= 1e-6 and r['diff_per_video'] <= 1e-6 for r in rows)
    assert 'batched/AF' not in capsys.readouterr().out  # ActionFormer columns only with --actionformer
    with pytest.raises(SystemExit, match='no nms.py'):
        benchmark_nms.main(['--videos', '1', '--actionformer', os.path.dirname(__file__) + '/missing'])


def test_nms_benchmark_prints_per_video_and_batched_ratios_to_actionformer(tmp_path, capsys):
    """A stand-in for ActionFormer's nms.py (same signature; sleeps 1 ms of CPU per call): both ratios are
    printed and equal zeetad's time over its time; the multi-class voting row, which ActionFormer cannot run,
    has none."""
    (tmp_path / 'nms.py').write_text(
        'import time\n'
        'def batched_nms(segs, scores, labels, iou_threshold, min_score, max_seg_num, **kw):\n'
        '    t = time.process_time()\n'
        '    while time.process_time() - t < 1e-3:\n'
        '        pass\n'
        '    return segs, scores, labels\n')
    rows = benchmark_nms.main(['--videos', '2', '--ref-videos', '1', '--repeat', '1', '--settings', '0', '1',
                               '--actionformer', str(tmp_path)])
    out = capsys.readouterr().out
    assert 'per-video/AF' in out and 'batched/AF' in out
    line = next(ln for ln in out.splitlines() if ln.startswith('THUMOS14 (2000'))
    cells = [c.strip() for c in line.split('|')]
    assert float(cells[5]) == pytest.approx(rows[0]['per_video'] / rows[0]['actionformer'], abs=0.006)
    assert float(cells[6]) == pytest.approx(rows[0]['batched'] / rows[0]['actionformer'], abs=0.006)
    assert 0.9 < rows[0]['actionformer'] < 3  # ms per video
    assert 'actionformer' not in rows[1] and next(ln for ln in out.splitlines() if 'voting' in ln).count(' - ') == 3


def test_table_and_dict_predictions_evaluate_identically(tmp_path):
    """The CLI's columnar path gives exactly the dict path's result, ignored counts included."""
    gt, preds = benchmark_eval.synthetic_anet(40, 30, 6, seed=2)
    preds['not_in_gt'] = preds['v_000001'][:3]
    preds['v_000002'][0] = dict(preds['v_000002'][0], label='unscored')
    path = tmp_path / 'p.json'
    path.write_text(json.dumps({'results': preds}))
    table = load_prediction_table(str(path))
    kw = dict(classes=sorted({a['label'] for v in gt.values() for a in v}), blocked_videos=['v_000003'])
    with pytest.warns(UserWarning, match='ignored'):
        from_dicts = evaluate_detections(gt, preds, (0.3, 0.5, 0.7), **kw)
    with pytest.warns(UserWarning, match='ignored'):
        from_table = evaluate_detections(gt, table, (0.3, 0.5, 0.7), **kw)
    assert from_table == from_dicts
    assert from_dicts['ignored_predictions'] == {'unknown_label': 1, 'unknown_video': 3, 'blocked_video': 30}
