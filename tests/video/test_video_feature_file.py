"""Feature files: layout read by HDF5FeatureStore, resume checks, incomplete videos, shard merging; sources."""
import os

import h5py
import numpy as np
import pytest

from zeetad.datasets.feature_store import HDF5FeatureStore, build_feature_store
from zeetad.datasets.timebase import make_timebase
from zeetad.video.feature_file import COMPLETE, FeatureFileMismatch, FeatureFileWriter, complete_ids
from zeetad.video.feature_shards import find_shards, merge_feature_files, shard_path
from zeetad.video.sources import VideoSource, list_videos, shard_videos, video_id_of

RUN = dict(sample_fps=2.0, offset_s=0.0, dtype='float16', model='m', pretrained='/ckpt.pt', normalized=True,
           feature_dim=4, image_size=[32, 32])


def feats(t, seed=0):
    return np.random.default_rng(seed).normal(size=(t, 4)).astype(np.float32)


def write(path, videos, run=RUN):
    with FeatureFileWriter(str(path), run) as w:
        for vid, t in videos.items():
            w.write(vid, feats(t, seed=len(vid) + t), np.arange(t) / run['sample_fps'], dict(source=f'/v/{vid}.mp4'))


def test_layout_is_read_by_the_dataset_feature_store(tmp_path):
    path = tmp_path / 'clip.h5'
    write(path, {'v1': 5, 'v2': 3})
    store = build_feature_store(dict(format='hdf5', path=str(path), dim=4,
                                     timebase=dict(sample_fps=2.0, offset_s=0.0)), 'clip_features')
    assert isinstance(store, HDF5FeatureStore) and store.has('v1') and not store.has('v3')
    v1 = store.load('v1')
    assert v1.shape == (5, 4) and v1.dtype == np.float16
    np.testing.assert_allclose(v1, feats(5, seed=7), atol=2e-3, rtol=1e-3)
    attrs = store.attrs()
    assert attrs['sample_fps'] == 2.0 and attrs['offset_s'] == 0.0 and attrs['model'] == 'm'
    with h5py.File(path, 'r') as h5:
        ds = h5['v1']
        tb = make_timebase(dict(sample_fps=float(ds.attrs['sample_fps']), offset_s=float(ds.attrs['offset_s'])), None)
        np.testing.assert_array_equal(tb.index_to_seconds(np.arange(5)), ds.attrs['timestamps'])
        assert ds.attrs['timestamps'].dtype == np.float64 and bool(ds.attrs[COMPLETE])
        assert ds.attrs['pretrained'] == '/ckpt.pt' and bool(ds.attrs['normalized'])
        assert ds.attrs['source'] == '/v/v1.mp4'


def test_resume_keeps_complete_videos_and_checks_settings(tmp_path):
    path = tmp_path / 'clip.h5'
    write(path, {'v1': 5})
    with FeatureFileWriter(str(path), RUN) as w:
        assert w.complete_ids() == {'v1'} and w.dropped_incomplete == []
    for change in (dict(model='other'), dict(sample_fps=1.0), dict(dtype='float32'), dict(normalized=False)):
        with pytest.raises(FeatureFileMismatch, match=list(change)[0]):
            FeatureFileWriter(str(path), dict(RUN, **change))
    with FeatureFileWriter(str(path), dict(RUN, model='other'), overwrite=True) as w:
        assert w.complete_ids() == set()


def test_video_without_completion_flag_is_dropped_on_reopen(tmp_path):
    path = tmp_path / 'clip.h5'
    write(path, {'v1': 5, 'v2': 4})
    with h5py.File(path, 'a') as h5:  # what a kill in the middle of a write leaves behind
        del h5['v2'].attrs[COMPLETE]
    assert complete_ids(str(path)) == {'v1'}
    with FeatureFileWriter(str(path), RUN) as w:
        assert w.dropped_incomplete == ['v2'] and w.complete_ids() == {'v1'}
    with h5py.File(path, 'r') as h5:
        assert list(h5) == ['v1']


def test_refuses_files_written_by_something_else(tmp_path):
    path = tmp_path / 'other.h5'
    with h5py.File(path, 'w') as h5:
        h5.create_dataset('x', data=np.zeros(3))
    with pytest.raises(FeatureFileMismatch, match='not written by this tool'):
        FeatureFileWriter(str(path), RUN)
    empty = tmp_path / 'empty.h5'
    h5py.File(empty, 'w').close()
    with FeatureFileWriter(str(empty), RUN) as w:
        assert w.complete_ids() == set()


def test_long_timestamp_arrays_fit_in_attributes(tmp_path):
    path = tmp_path / 'long.h5'
    t = 20000  # 5.5 h at 1 fps: beyond HDF5's 64 KiB compact attribute limit
    with FeatureFileWriter(str(path), RUN) as w:
        w.write('long', np.zeros((t, 4), np.float32), np.arange(t) / 2.0)
    with h5py.File(path, 'r') as h5:
        assert h5['long'].attrs['timestamps'].shape == (t,)


def test_write_rejects_inconsistent_arrays(tmp_path):
    with FeatureFileWriter(str(tmp_path / 'x.h5'), RUN) as w:
        with pytest.raises(ValueError):
            w.write('a', feats(3), np.arange(4.0))
        with pytest.raises(ValueError):
            w.write('a', np.zeros((3, 5), np.float32), np.arange(3.0))
        with pytest.raises(ValueError):
            w.write('a', np.zeros((0, 4), np.float32), np.zeros(0))


def test_merge_shards_deduplicates_and_is_resumable(tmp_path):
    out = tmp_path / 'feats.h5'
    s0, s1 = shard_path(str(out), 0), shard_path(str(out), 1)
    assert s0 == str(tmp_path / 'feats.rank0.h5')
    write(s0, {'a': 3, 'b': 4})
    write(s1, {'c': 2, 'b': 4})
    write(shard_path(str(out), 10), {'d': 1})
    (tmp_path / 'feats.rankx.h5').write_text('not a shard')
    assert find_shards(str(out)) == [s0, s1, shard_path(str(out), 10)]
    result = merge_feature_files(str(out), find_shards(str(out)))
    assert result == dict(copied=4, already=1, inputs=3)
    assert complete_ids(str(out)) == {'a', 'b', 'c', 'd'}
    again = merge_feature_files(str(out), find_shards(str(out)), remove_inputs=True)
    assert again['copied'] == 0 and find_shards(str(out)) == []
    write(s0, {'e': 2}, run=dict(RUN, model='other'))
    with pytest.raises(FeatureFileMismatch):
        merge_feature_files(str(out), [s0])
    store = HDF5FeatureStore(str(out))
    np.testing.assert_array_equal(store.load('c'), feats(2, seed=3).astype(np.float16))


def test_list_videos_from_folder_list_file_and_single_file(tmp_path):
    (tmp_path / 'sub').mkdir()
    for name in ('b.mp4', 'a.AVI', 'notes.txt', '.hidden.mp4', 'sub/c.mkv'):
        (tmp_path / name).write_bytes(b'x')
    assert [v.video_id for v in list_videos(str(tmp_path))] == ['a', 'b']
    assert [v.video_id for v in list_videos(str(tmp_path), recursive=True)] == ['a', 'b', 'c']
    listing = tmp_path / 'list.txt'
    listing.write_text('# my videos\nsub/c.mkv\n\n' + str(tmp_path / 'b.mp4') + '\nmissing.mp4\n')
    videos = list_videos(str(listing))
    assert videos == [VideoSource('b', str(tmp_path / 'b.mp4')), VideoSource('c', str(tmp_path / 'sub/c.mkv')),
                      VideoSource('missing', str(tmp_path / 'missing.mp4'))]
    assert list_videos(str(tmp_path / 'b.mp4')) == [VideoSource('b', str(tmp_path / 'b.mp4'))]
    (tmp_path / 'sub' / 'b.webm').write_bytes(b'x')
    with pytest.raises(ValueError, match="share the id 'b'"):
        list_videos(str(tmp_path), recursive=True)
    with pytest.raises(FileNotFoundError):
        list_videos(str(tmp_path / 'nope'))
    assert video_id_of('/x/v_abc.d.mp4') == 'v_abc.d'


def test_shards_partition_the_videos_by_size(tmp_path):
    videos = []
    for i, size in enumerate([900, 100, 100, 100, 500, 400, 50, 0]):
        path = tmp_path / f'v{i}.mp4'
        path.write_bytes(b'x' * size)
        videos.append(VideoSource(f'v{i}', str(path)))
    videos.append(VideoSource('gone', str(tmp_path / 'gone.mp4')))
    parts = [shard_videos(videos, r, 3) for r in range(3)]
    ids = [v.video_id for p in parts for v in p]
    assert sorted(ids) == sorted(v.video_id for v in videos) and len(ids) == len(set(ids))
    loads = [sum((tmp_path / f'{v.video_id}.mp4').stat().st_size if v.video_id != 'gone' else 0 for v in p)
             for p in parts]
    assert loads == [900, 650, 600] and [len(p) for p in parts] == [1, 3, 5]  # greedy, largest first
    assert shard_videos(videos, 1, 3) == parts[1]  # deterministic
    assert shard_videos(videos, 0, 1) == videos
    with pytest.raises(ValueError):
        shard_videos(videos, 3, 3)


def test_unmerged_parts_count_as_done_and_are_merged_later(tmp_path):
    """A writer that never got to merge (its final write failed): the parts are the finished videos."""
    out = str(tmp_path / 'clip.h5')
    write(out, {'v1': 5})
    shard = shard_path(out, 1)
    w = FeatureFileWriter(shard, RUN)
    w.write('v2', feats(3), np.arange(3) / 2.0)  # never closed: no shard file, one part
    assert not os.path.exists(shard) and complete_ids(shard) == {'v2'}
    assert find_shards(out) == [shard]
    with pytest.raises(FeatureFileMismatch, match=r'clip\.rank1\.h5\.parts/v2\.h5.*model'):
        FeatureFileWriter(shard, dict(RUN, model='other'))
    merge_feature_files(out, find_shards(out), remove_inputs=True)
    assert complete_ids(out) == {'v1', 'v2'} and find_shards(out) == [] and os.listdir(tmp_path) == ['clip.h5']


def test_two_writers_of_one_file_keep_each_others_videos(tmp_path):
    """Two runs into one file, interleaved: each merge starts from the file as it is then and deletes only the
    parts it merged, so the videos of both survive (a merge used to rebuild the file from what it read at start
    and delete the whole parts folder, losing the other run's videos)."""
    out = str(tmp_path / 'clip.h5')
    write(out, {'v0': 2})
    first, second = FeatureFileWriter(out, RUN), FeatureFileWriter(out, RUN)
    first.write('v1', feats(5), np.arange(5) / 2.0)
    second.write('v2', feats(3), np.arange(3) / 2.0)
    first.close()
    assert complete_ids(out) == {'v0', 'v1', 'v2'}  # the second run's finished part was merged too, not deleted
    second.write('v3', feats(4), np.arange(4) / 2.0)
    second.close()
    assert complete_ids(out) == {'v0', 'v1', 'v2', 'v3'} and os.listdir(tmp_path) == ['clip.h5']
    with h5py.File(out, 'r') as h5:
        np.testing.assert_allclose(h5['v2'][()], feats(3), atol=2e-3, rtol=1e-3)


def test_an_unwritable_output_folder_fails_at_once(tmp_path, monkeypatch):
    """A read-only file system: reported when the writer opens (before any video is decoded), naming the file."""
    import errno
    from zeetad.video.feature_file import FeatureWriteError
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / 'ro')):
            raise OSError(errno.EROFS, 'Read-only file system', path)
        return real_open(path, *args, **kwargs)

    (tmp_path / 'ro').mkdir()
    monkeypatch.setattr(os, 'open', read_only)
    with pytest.raises(FeatureWriteError, match=r'cannot write .*ro/clip\.h5: the folder .*ro is not writable '
                                                r'\(Read-only file system\)') as info:
        FeatureFileWriter(str(tmp_path / 'ro' / 'clip.h5'), RUN)
    assert info.value.errno == errno.EROFS
