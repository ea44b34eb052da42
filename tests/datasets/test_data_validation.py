"""Bad annotations, feature files and dataset options fail with the file, video id or key named."""
import json
import logging

import h5py
import numpy as np
import pytest

from zeetad.datasets import TADDataset
from zeetad.datasets.annotations import AnnotationError, load_annotations
from zeetad.datasets.feature_store import FeatureReadError


def build(cfg, **kw):
    args = dict(ann_file=cfg['ann_file'], loc_features=cfg['loc_features'], clip_features=cfg['clip_features'],
                split=cfg['split'], window_size=32, window_overlap=0.25, subset='Validation', role='train',
                verbose=False)
    args.update(kw)
    return TADDataset(**args)


def edit_video(cfg, video_id, **fields):
    with open(cfg['ann_file']) as f:
        content = json.load(f)
    content['database'][video_id].update(fields)
    with open(cfg['ann_file'], 'w') as f:
        json.dump(content, f)


@pytest.mark.parametrize('fps, shown', [('thirty', "'thirty'"), (0, '0'), (-30.0, '-30.0'), (float('nan'), 'nan')])
def test_bad_fps_names_file_and_video(tiny_dataset, fps, shown):
    edit_video(tiny_dataset, 'vid_b', fps=fps)
    with pytest.raises(AnnotationError, match=f"ann.json: video 'vid_b': fps must be a positive number, got {shown}"):
        load_annotations(tiny_dataset['ann_file'])


def test_empty_database_names_the_file(tiny_dataset):
    """Used to surface as 'split class ... does not occur in the annotations', naming the split file."""
    with open(tiny_dataset['ann_file'], 'w') as f:
        json.dump({'version': 'x', 'database': {}}, f)
    with pytest.raises(AnnotationError, match='ann.json: "database" holds no videos'):
        build(tiny_dataset)


def test_split_file_listing_a_class_twice_is_named(tiny_dataset):
    """Used to fail at the first evaluation with "duplicate class names", naming no file."""
    from zeetad.datasets.splits import SplitError
    path = f"{tiny_dataset['split']['root']}/train_75_test_25/Toy/train/split_0.list"
    with open(path, 'a') as f:
        f.write('Jump  \n')
    with pytest.raises(SplitError, match=r"train/split_0.list: class names listed more than once \(case and spaces "
                                        r"ignored\): 'Jump' and 'Jump'"):
        build(tiny_dataset)


def test_repeated_video_id_is_an_error(tmp_path):
    entry = '{"subset": "Test", "duration": 10, "annotations": []}'
    path = tmp_path / 'dup.json'
    path.write_text('{"database": {"v1": %s, "v2": %s, "v1": %s}}' % (entry, entry, entry))
    with pytest.raises(AnnotationError, match="dup.json: video 'v1' has more than one entry"):
        load_annotations(path)


def _zero_byte_npy(cfg):
    path = cfg['loc_features']['root'] + '/vid_b.npy'
    open(path, 'wb').close()
    return path, "video 'vid_b'"


def _truncated_h5(cfg):
    path = cfg['clip_features']['path']
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 3])
    return path, 'not a readable HDF5 feature file'


def _text_as_h5(cfg):
    path = cfg['clip_features']['path']
    open(path, 'w').write('features of a video, as text\n' * 20)
    return path, 'not a readable HDF5 feature file'


@pytest.mark.parametrize('damage', [_zero_byte_npy, _truncated_h5, _text_as_h5])
def test_unreadable_feature_files_are_named(tiny_dataset, damage):
    path, what = damage(tiny_dataset)
    with pytest.raises(FeatureReadError) as info:
        build(tiny_dataset)
    assert str(info.value).startswith(path) and what in str(info.value)


def _one_row(cfg):
    np.save(cfg['loc_features']['root'] + '/vid_a.npy', np.zeros((1, 8), np.float32))


def _three_clip_rows(cfg):
    with h5py.File(cfg['clip_features']['path'], 'a') as h5:
        del h5['vid_b']
        h5['vid_b'] = np.zeros((3, 6), np.float32)


@pytest.mark.parametrize('change, message', [
    (_one_row, "vid_a.npy: video 'vid_a' has 1 loc_features rows, but .* 30 s .* needs about 150"),
    (lambda cfg: edit_video(cfg, 'vid_a', duration=300.0), "vid_a.npy: video 'vid_a' has 150 loc_features rows"),
    (lambda cfg: edit_video(cfg, 'vid_a', duration=2.0), "vid_a.npy: video 'vid_a' has 150 loc_features rows"),
    (lambda cfg: edit_video(cfg, 'vid_a', duration=0.1), "vid_a.npy: video 'vid_a' lasts 0.1 s, less than one"),
    (_three_clip_rows, "clip.h5:vid_b: video 'vid_b' has 3 clip_features rows, but .* 20 s .* needs about 21"),
])
def test_duration_and_features_must_agree(tiny_dataset, change, message):
    change(tiny_dataset)
    with pytest.raises(FeatureReadError, match=message):  # a located error: the tools print it without traceback
        build(tiny_dataset, length_tolerance=0.1, clip_features=dict(tiny_dataset['clip_features']))


def test_a_few_percent_of_difference_is_normal(tiny_dataset):
    path = tiny_dataset['loc_features']['root'] + '/vid_a.npy'
    feats = np.load(path)
    np.save(path, feats[:-7])  # 143 of 150 rows: 4.7 % short
    edit_video(tiny_dataset, 'vid_b', duration=20.9)  # 1.05 x the 21 CLIP rows at 1 fps
    assert {d['video_id'] for d in build(tiny_dataset).data_list} == {'vid_a', 'vid_b'}
    np.save(path, feats[:-20])
    with pytest.raises(ValueError, match="vid_a.*130 loc_features rows"):
        build(tiny_dataset)
    assert len(build(tiny_dataset, length_tolerance=None).data_list) > 0


@pytest.mark.parametrize('video_id, old, new, role, subset', [
    ('vid_d', 'Throw', 'Thorw', 'test', 'Test'),
    ('vid_a', 'Jump', 'Jmup', 'train', 'Validation'),
])
def test_labels_in_no_class_list_are_counted_and_named(tiny_dataset, caplog, video_id, old, new, role, subset):
    with open(tiny_dataset['ann_file']) as f:
        content = json.load(f)
    for ann in content['database'][video_id]['annotations']:
        ann['label'] = new if ann['label'] == old else ann['label']
    with open(tiny_dataset['ann_file'], 'w') as f:
        json.dump(content, f)
    caplog.set_level(logging.DEBUG)
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().addHandler(caplog.handler)
    try:
        ds = build(tiny_dataset, role=role, subset=subset, verbose=True, eval_videos='all')
    finally:
        MMLogger.get_current_instance().removeHandler(caplog.handler)
    assert ds.metainfo['unassigned_labels'] == {new: 1}
    text = caplog.text
    assert f"1 {role} instances of 1 labels in no class list" in text and f"'{new}'" in text
    assert f"did you mean '{old}'" in text
    assert f"video '{video_id}': instances of ['{new}']" in text  # the video-level detail
    assert f'left out  : WARNING 1 instances of 1 labels in no class list: {new}(1)' in text


@pytest.mark.parametrize('change, message', [
    (dict(window_size=-8), 'dataset.window_size: must be a positive integer or None, got -8'),
    (dict(window_overlap='0.25'), "dataset.window_overlap: must be a number in [0, 1), got '0.25'"),
    (dict(split='S', key='ratoi', value=50), "dataset.split: unknown key 'ratoi' (did you mean 'ratio'?)"),
    (dict(split='S', key='index', value='3'), "dataset.split.index: must be an integer >= 0, got '3'"),
    (dict(stream='clip_features', key='ofset_s', value=0.5),
     "dataset.clip_features.timebase: unknown key 'ofset_s' (did you mean 'offset_s'?)"),
    (dict(stream='loc_features', key='stirde', value=8),
     "dataset.loc_features.timebase: unknown key 'stirde' (did you mean 'stride'?)"),
    (dict(stream='loc_features', key='fps', value='thirty'),
     "dataset.loc_features.timebase.fps: must be a positive number, got 'thirty'"),
])
def test_bad_dataset_options_name_the_key(tiny_dataset, change, message):
    kw = {k: v for k, v in change.items() if k not in ('split', 'stream', 'key', 'value')}
    if 'split' in change:
        kw['split'] = dict(tiny_dataset['split'], **{change['key']: change['value']})
    if 'stream' in change:
        spec = tiny_dataset[change['stream']]
        kw[change['stream']] = dict(spec, timebase=dict(spec['timebase'], **{change['key']: change['value']}))
    with pytest.raises(ValueError) as info:
        build(tiny_dataset, **kw)
    assert message in str(info.value) and 'ann.json' in str(info.value)
