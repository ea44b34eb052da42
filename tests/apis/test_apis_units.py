"""Small pieces of the detect API: class-name parsing, the table, window layout, curves files."""
import numpy as np
import pytest

from zeetad.apis import (NoClassesError, RepeatedClassNamesError, StreamSpec, VideoMeta, VideoTooShortError,
                         format_detections, load_curves, parse_class_names, save_curves, video_windows)


def test_parse_class_names(tmp_path):
    assert parse_class_names(' high jump, pole vault;a person falling\n ,') == [
        'high jump', 'pole vault', 'a person falling']
    names = tmp_path / 'names.txt'
    names.write_text('# my classes\nHighJump\n\nPoleVault\n')
    assert parse_class_names([f'@{names}', 'swim, High Jump']) == ['HighJump', 'PoleVault', 'swim', 'High Jump']
    for empty in ('', ' , ;\n', [], None):
        with pytest.raises(NoClassesError, match='no class names given'):
            parse_class_names(empty)
    with pytest.raises(NoClassesError, match='not found'):
        parse_class_names('@' + str(tmp_path / 'missing.txt'))


def test_a_class_named_twice_is_an_error(tmp_path):
    """One CLIP text under two names would double every detection and split the scores between them."""
    with pytest.raises(RepeatedClassNamesError, match=r"given more than once \(case and spaces ignored\): "
                                                      r"'high jump' and 'High  Jump'; give each class once"):
        parse_class_names('high jump, pole vault, High  Jump')
    names = tmp_path / 'names.txt'
    names.write_text('swim\n')
    with pytest.raises(RepeatedClassNamesError, match=r"'swim' and 'swim'"):
        parse_class_names([f'@{names}', 'swim'])


def test_windows_follow_the_dataset_layout():
    spec = StreamSpec(loc=dict(timebase=dict(sample_fps=2.0)), clip=None, window_size=16, window_overlap=0.25,
                      resize_length=None)
    video = VideoMeta('v', 'v.mp4', 12.0, 25.0)
    wins = video_windows(video, spec, 24)
    assert [w['window'] for w in wins] == [(0, 16), (8, 24)]
    assert [w['begin_s'] for w in wins] == [-0.25, 3.75] and {w['span_s'] for w in wins} == {8.0}
    with pytest.raises(VideoTooShortError, match=r"10 feature steps of 0.5 s\), shorter than the model's window"):
        video_windows(VideoMeta('s', 's.mp4', 5.0, 25.0), spec, 10)
    assert [w['window'] for w in video_windows(VideoMeta('s', 's.mp4', 5.0, 25.0), spec, 10, True)] == [(0, 10)]
    with pytest.raises(VideoTooShortError, match='shorter than one feature step'):
        video_windows(video, spec, 0, allow_short=True)
    snippets = StreamSpec(loc=dict(timebase=dict(stride=4, window=16, fps=None)), clip=None, window_size=None,
                          window_overlap=0.0, resize_length=128)
    (whole,) = video_windows(video, snippets, 70)  # resized videos are one item, never too short
    assert whole['window'] == (0, 70) and whole['step_s'] == pytest.approx(4 / 25)


def test_table_and_curves_files(tmp_path):
    results = {'v': [dict(label='high jump', score=0.9, segment=[65.0, 70.5]),
                     dict(label='fall', score=0.05, segment=[1.0, 2.0]),
                     dict(label='fall', score=0.4, segment=[3.25, 4.0])]}
    table = format_detections(results, {'v': 80.0}, score_thr=0.1, failed={'w': 'cannot read w.mp4'})
    lines = table.splitlines()
    assert lines[0] == 'v, 80.0 s: 2 detections with score >= 0.1 (of 3)'
    assert lines[2].split() == ['0:03.2', '0:04.0', '3.25', '4.00', 'fall', '0.400']
    assert lines[3].split() == ['1:05.0', '1:10.5', '65.00', '70.50', 'high', 'jump', '0.900']
    assert lines[-1] == 'w: FAILED: cannot read w.mp4'
    t = np.arange(5) / 2
    path = save_curves({'v': {'high jump': (t, t ** 2), 'a/b (end)': (t, -t)}}, str(tmp_path / 'c.npz'))
    back = load_curves(path)
    assert list(back['v']) == ['high jump', 'a/b (end)']
    np.testing.assert_array_equal(back['v']['a/b (end)'][1], -t)
    assert load_curves(path, 'nope') == {}


@pytest.mark.parametrize('array, shape', [(np.zeros((20, 9)), '(20, 9)'), (np.zeros((0, 8)), '(0, 8)'),
                                          (np.zeros(8), '(8,)')])
def test_user_localisation_features_of_the_wrong_shape_are_named(tmp_path, array, shape):
    """Wrong dims, no rows or a 1-D array in --loc-features: an error naming the file and video, before the model
    sees them."""
    from zeetad.apis import DetectError
    from zeetad.apis.detect import _check_user_loc
    from zeetad.datasets.feature_store import build_feature_store
    np.save(tmp_path / 'a.npy', np.zeros((20, 8), np.float32))
    np.save(tmp_path / 'b.npy', array.astype(np.float32))
    store = build_feature_store(dict(format='npy', root=str(tmp_path), dim=8,
                                     timebase=dict(stride=4, window=16, fps=None)), 'loc_features')
    videos = [VideoMeta('a', 'a.mp4', 10.0, 25.0), VideoMeta('b', 'b.mp4', 10.0, 25.0)]
    _check_user_loc(store, videos[:1], str(tmp_path), 8)
    with pytest.raises(DetectError) as info:
        _check_user_loc(store, videos, str(tmp_path), 8)
    assert str(info.value) == (f"--loc-features {tmp_path / 'b.npy'}: features of video 'b' must be (T >= 1, 8), "
                               f"got shape {shape}")
