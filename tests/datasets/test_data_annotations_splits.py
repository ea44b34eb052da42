import json

import numpy as np
import pytest

from zeetad.datasets.annotations import AnnotationError, load_annotations, to_ground_truth
from zeetad.datasets.splits import resolve_split
from zeetad.datasets.timebase import TimeBase, make_timebase, resample_stream
from zeetad.datasets.windows import enumerate_windows, window_instances
from testing_utils import ROOT

THUMOS = ROOT / 'data' / 'thumos14' / 'annotations' / 'thumos14.json'


def test_thumos14_file_loads_with_real_counts():
    records = load_annotations(THUMOS)
    assert len(records) == 412
    assert sum(r.subset == 'Validation' for r in records) == 200
    assert sum(len(r.instances) for r in records) == 6365
    assert len({i.label for r in records for i in r.instances}) == 20
    test = load_annotations(THUMOS, ['Test'])
    assert len(test) == 212 and all(r.subset == 'Test' for r in test)
    # kept as annotated: the real file has 30 instances past the end of their video
    past_end = [r.video_id for r in records for i in r.instances if i.end > r.duration]
    assert len(past_end) == 30 and past_end.count('video_test_0000270') == 22


def test_official_activitynet_layout(tmp_path):
    path = tmp_path / 'anet.json'
    path.write_text(json.dumps({'version': 'VERSION 1.3', 'taxonomy': [], 'database': {
        'abc': {'subset': 'validation', 'duration': 100.5, 'resolution': '640x360', 'url': 'x',
                'annotations': [{'segment': [1.5, 20.25], 'label': 'Long jump'}]}}}))
    (rec,) = load_annotations(path, ['validation'])
    assert rec.fps is None and rec.instances[0].label == 'Long jump'
    assert to_ground_truth([rec]) == {'abc': [{'label': 'Long jump', 'segment': [1.5, 20.25]}]}
    assert to_ground_truth([rec], ['Other']) == {'abc': []}


@pytest.mark.parametrize('entry, message', [
    ({'subset': 'Test'}, 'duration'),
    ({'subset': 'Test', 'duration': -1}, 'positive'),
    ({'subset': 'Test', 'duration': 9, 'annotations': [{'label': 'a', 'segment': [5, 2]}]}, 'invalid segment'),
    ({'subset': 'Test', 'duration': 9, 'annotations': [{'segment': [1, 2]}]}, 'label'),
])
def test_bad_annotations_name_file_and_video(tmp_path, entry, message):
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps({'database': {'video_x': entry}}))
    with pytest.raises(AnnotationError, match=message) as info:
        load_annotations(path)
    assert 'bad.json' in str(info.value) and 'video_x' in str(info.value)


def test_published_splits_resolve_against_thumos_classes():
    classes = sorted({i.label for r in load_annotations(THUMOS) for i in r.instances})
    for ratio, n_test in ((75, 5), (50, 10)):
        for index in range(10):
            split = resolve_split(dict(mode='zero_shot', root=str(ROOT / 'data' / 'splits'), dataset='THUMOS14',
                                       ratio=ratio, index=index), classes)
            assert len(split.test_classes) == n_test and len(split.train_classes) == 20 - n_test
            assert not set(split.train_classes) & set(split.test_classes)
    split = resolve_split(dict(mode='zero_shot', root=str(ROOT / 'data' / 'splits'), dataset='THUMOS14',
                               ratio=75, index=0), classes)
    assert split.test_classes == ('BaseballPitch', 'HammerThrow', 'PoleVault', 'SoccerPenalty', 'ThrowDiscus')
    bound = resolve_split(dict(mode='zero_shot', root=str(ROOT / 'data' / 'splits'), dataset='THUMOS14', ratio=75,
                               index=0, train_on_all=True), classes)
    assert len(bound.train_classes) == 20 and bound.test_classes == split.test_classes


def test_split_errors(tmp_path):
    with pytest.raises(ValueError, match="'Ghost'.*does not occur"):
        resolve_split(dict(mode='custom', train_classes=['A'], test_classes=['Ghost']), ['A', 'B'])
    with pytest.raises(FileNotFoundError, match='split_7.list'):
        resolve_split(dict(mode='zero_shot', root=str(tmp_path), dataset='X', ratio=75, index=7), ['A'])
    with pytest.raises(KeyError, match='split.index'):
        resolve_split(dict(mode='zero_shot', root=str(tmp_path), dataset='X', ratio=75), ['A'])


def test_split_class_missing_from_annotations_suggests_the_close_one(tmp_path):
    root = tmp_path / 'splits'
    for kind, names in (('train', ['Jump', 'Swim']), ('test', ['Pole Vault'])):
        (root / 'train_75_test_25' / 'X' / kind).mkdir(parents=True)
        (root / 'train_75_test_25' / 'X' / kind / 'split_0.list').write_text('\n'.join(names) + '\n')
    split = dict(mode='zero_shot', root=str(root), dataset='X', ratio=75, index=0)
    test_file = str(root / 'train_75_test_25' / 'X' / 'test' / 'split_0.list')
    with pytest.raises(ValueError, match="'Pole Vault'") as err:
        resolve_split(split, ['Jump', 'Swim', 'PoleVault', 'Run'])
    assert test_file in str(err.value) and "did you mean 'PoleVault'?" in str(err.value)
    with pytest.raises(ValueError) as err:  # nothing close: no suggestion, the known classes are listed
        resolve_split(split, ['Jump', 'Swim', 'Bowling'])
    assert 'did you mean' not in str(err.value) and "'Bowling'" in str(err.value)


def test_timebase_matches_snippet_extraction_and_round_trips():
    tb = make_timebase(dict(stride=4, window=16, fps=None), 30.0)
    # snippet i covers frames [4i, 4i+16): centre at (4i + 8) / 30 s
    assert np.allclose(tb.index_to_seconds([0, 1, 10]), [8 / 30, 12 / 30, 48 / 30])
    idx = np.array([0.0, 3.5, 100.25])
    assert np.allclose(tb.seconds_to_index(tb.index_to_seconds(idx)), idx, atol=1e-12)
    tsp = make_timebase(dict(stride=16, window=16, fps=15), 29.97)  # TSP features are taken at 15 fps
    assert tsp.step_s == pytest.approx(16 / 15)
    clip = make_timebase(dict(sample_fps=2.0), None)
    assert clip.index_to_seconds(3) == pytest.approx(1.5)
    with pytest.raises(ValueError, match='fps'):
        make_timebase(dict(stride=4, window=16, fps=None), None)


def test_resample_stream_interpolates_by_time():
    src = TimeBase(step_s=1.0, offset_s=0.0)
    feats = np.arange(5, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)
    out = resample_stream(feats, src, np.array([0.0, 0.5, 2.25, 10.0, -3.0]))
    assert np.allclose(out[:, 0], [0.0, 0.5, 2.25, 4.0, 0.0])
    assert np.allclose(out[:, 1], -2 * out[:, 0])


def test_windows_cover_sequence():
    assert enumerate_windows(50, 128, 0.25) == [(0, 50)]
    wins = enumerate_windows(300, 128, 0.25)
    assert wins[0] == (0, 128) and wins[1] == (96, 224) and wins[-1] == (172, 300)
    covered = np.zeros(300, bool)
    for s, e in wins:
        covered[s:e] = True
    assert covered.all()


def test_window_instances_coverage_and_clipping():
    inst = np.array([[1.0, 3.0, 0], [9.0, 13.0, 1], [11.5, 20.0, 2], [5.0, 5.0, 3]])
    segs, labels = window_instances(inst, begin_s=0.0, span_s=12.0, min_coverage=0.5)
    assert labels.tolist() == [0, 1, 3]
    assert np.allclose(segs, [[1 / 12, 3 / 12], [9 / 12, 1.0], [5 / 12, 5 / 12]])
