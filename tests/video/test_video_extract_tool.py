"""tools/data/extract_clip_features.py end to end on real videos with a tiny random CLIP loaded from a file."""
import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from video_factory import CORRUPT, VIDEOS

from zeetad.datasets.feature_store import HDF5FeatureStore
from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
from zeetad.video import feature_file
from zeetad.video.decode import iter_frames
from zeetad.video.feature_file import complete_ids
from zeetad.video.feature_shards import find_shards

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'data' / 'extract_clip_features.py'
GOOD = {os.path.splitext(n)[0]: n for n in VIDEOS}
# 2 fps samples: ceil(duration * 2)
EXPECTED_T = {'square_mpeg4': 6, 'square_h264': 4, 'square_ntsc': 4, 'square_24': 4, 'square_ts': 4}


def load_tool():
    spec = importlib.util.spec_from_file_location('extract_clip_features_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool_args(video_dir, out, ckpt, *extra):
    return [str(video_dir), str(out), '--model', 'zeetad-tiny-clip', '--model-config', TINY_CLIP_CONFIG,
            '--pretrained', str(ckpt), '--fps', '2', '--num-workers', '0', '--batch-size', '4',
            '--chunk-frames', '3', '--no-progress', '--plain', *extra]


@pytest.fixture(scope='module')
def tool():
    return load_tool()


@pytest.fixture(scope='module')
def reference(video_files, tiny_encoder):
    """Features computed without the tool: iter_frames -> open_clip preprocessing -> image tower, float16."""
    pre = tiny_encoder.preprocessor()
    out = {}
    for vid, name in GOOD.items():
        frames = [pre(f) for _, f in iter_frames(video_files[name], 2.0)]
        out[vid] = tiny_encoder.encode(torch.from_numpy(np.stack(frames))).numpy().astype(np.float16)
    return out


def check_output(out, reference, ids=None):
    store = HDF5FeatureStore(str(out))
    with h5py.File(out, 'r') as h5:
        assert sorted(h5) == sorted(ids or GOOD)
        assert h5.attrs['model'] == 'zeetad-tiny-clip' and h5.attrs['sample_fps'] == 2.0
        for vid in ids or GOOD:
            feats = store.load(vid)
            assert feats.shape == (EXPECTED_T[vid], 256) and feats.dtype == np.float16
            np.testing.assert_array_equal(h5[vid].attrs['timestamps'], np.arange(EXPECTED_T[vid]) / 2.0)
            assert h5[vid].attrs['source'].endswith(GOOD[vid]) and bool(h5[vid].attrs['complete'])
            np.testing.assert_allclose(feats.astype(np.float32), reference[vid].astype(np.float32), atol=2e-3,
                                       rtol=0)
            np.testing.assert_allclose(np.linalg.norm(feats.astype(np.float32), axis=1), 1.0, atol=2e-3)
    store._handle().close()  # the next run in this process reopens the file for writing


def summary_count(text, key):
    return int(re.search(rf'^\s*{re.escape(key)}\s+(\d+)\s*$', text, re.M).group(1))


def test_extracts_every_video_and_reports_the_corrupt_one(tool, video_dir, tmp_path, tiny_clip_file, reference,
                                                          capsys):
    out = tmp_path / 'clip.h5'
    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 1  # 1: a video failed
    text = capsys.readouterr().out
    assert (summary_count(text, 'done'), summary_count(text, 'failed')) == (len(GOOD), 1)
    assert re.search(r'truncated: cannot open: .*Invalid data', text)
    check_output(out, reference)

    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 1  # resumed: nothing left but the bad one
    text = capsys.readouterr().out
    assert (summary_count(text, 'done'), summary_count(text, r'skipped (already complete)'),
            summary_count(text, 'failed')) == (0, len(GOOD), 1)
    check_output(out, reference)

    os.remove(video_dir / CORRUPT)
    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 0
    assert tool.main(tool_args(video_dir, out, tiny_clip_file, '--fps', '1')) == 2  # other settings: refused
    assert 'sample_fps' in capsys.readouterr().err


def test_interrupted_run_leaves_a_valid_file_and_resumes(tool, video_dir, tmp_path, tiny_clip_file, reference,
                                                         monkeypatch):
    out = tmp_path / 'clip.h5'
    real_write = feature_file.FeatureFileWriter.write
    calls = []

    def write_then_interrupt(self, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the third video is being written
        calls.append(args[0])
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(feature_file.FeatureFileWriter, 'write', write_then_interrupt)
    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 130
    assert complete_ids(str(out)) == set(calls) and len(calls) == 2
    check_output(out, reference, ids=calls)
    monkeypatch.setattr(feature_file.FeatureFileWriter, 'write', real_write)

    with h5py.File(out, 'a') as h5:  # a kill inside a write: the flag is missing, the video must be redone
        del h5[calls[0]].attrs['complete']
    from zeetad.video.launch import run_extraction
    report, _, _ = run_extraction(str(video_dir), str(out), model_name=None, pretrained=tiny_clip_file,
                                  model_config_file=TINY_CLIP_CONFIG, fps=2.0, num_workers=0, progress=False)
    assert report.dropped_incomplete == [calls[0]] and report.skipped == [calls[1]]
    assert sorted(report.done) == sorted(set(GOOD) - {calls[1]}) and list(report.failed) == ['truncated']
    check_output(out, reference)


def test_worker_processes_give_the_same_features(tool, video_dir, tmp_path, tiny_clip_file, reference):
    out = tmp_path / 'clip.h5'
    args = tool_args(video_dir, out, tiny_clip_file, '--num-workers', '2', '--chunk-frames', '2')
    assert tool.main(args) == 1
    check_output(out, reference)


def test_manual_shards_then_merge(tool, video_dir, tmp_path, tiny_clip_file, reference):
    out = tmp_path / 'clip.h5'
    for rank in (0, 1):
        tool.main(tool_args(video_dir, out, tiny_clip_file, '--rank', str(rank), '--world-size', '2'))
    shards = find_shards(str(out))
    assert len(shards) == 2 and not out.exists()
    parts = [complete_ids(s) for s in shards]
    assert not parts[0] & parts[1] and parts[0] | parts[1] == set(GOOD)
    assert tool.main(['--merge', str(out)]) == 0
    assert find_shards(str(out)) == []
    check_output(out, reference)
    assert tool.main(['--merge', str(out)]) == 2  # nothing left to merge


@pytest.mark.slow
def test_torchrun_two_ranks_shard_and_merge(video_dir, tmp_path, tiny_clip_file, reference):
    out = tmp_path / 'clip.h5'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    with socket.socket() as sock:  # a free port, so parallel test runs do not collide
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node', '2', '--master-port', str(port),
           str(TOOL), *tool_args(video_dir, out, tiny_clip_file, '--device', 'cpu')]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stderr[-3000:]  # rank 0 reports the corrupt video
    assert 'merged 2 shard files' in proc.stdout
    assert find_shards(str(out)) == []
    check_output(out, reference)


def same_contents(a, b):
    """Two feature files hold the same videos, arrays and attributes (file and per video)."""
    with h5py.File(a, 'r') as fa, h5py.File(b, 'r') as fb:
        assert sorted(fa) == sorted(fb) and sorted(fa.attrs) == sorted(fb.attrs)
        for key in fa.attrs:
            np.testing.assert_array_equal(fa.attrs[key], fb.attrs[key])
        for vid in fa:
            np.testing.assert_array_equal(fa[vid][()], fb[vid][()])
            assert sorted(fa[vid].attrs) == sorted(fb[vid].attrs)
            for key in fa[vid].attrs:
                np.testing.assert_array_equal(fa[vid].attrs[key], fb[vid].attrs[key])


def test_file_size_limit_keeps_every_finished_video_and_the_rerun_resumes(tool, video_dir, tmp_path,
                                                                          tiny_clip_file, reference, capsys):
    """A real write failure (``ulimit -f`` just below the final size): nothing finished is lost."""
    import resource
    import signal
    uninterrupted = tmp_path / 'uninterrupted.h5'
    assert tool.main(tool_args(video_dir, uninterrupted, tiny_clip_file)) == 1  # 1: the corrupt video
    capsys.readouterr()
    limit = os.path.getsize(uninterrupted) - 1
    out = tmp_path / 'clip.h5'

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing

    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(TOOL), *tool_args(video_dir, out, tiny_clip_file)], env=env,
                          capture_output=True, text=True, timeout=240, preexec_fn=limit_file_size)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert f'cannot write 5 new videos (kept in {out}.parts' in proc.stderr and 'File too large' in proc.stderr
    assert complete_ids(str(out)) == set(GOOD)  # every finished video survived the failed write

    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 1
    text = capsys.readouterr().out
    assert (summary_count(text, 'done'), summary_count(text, r'skipped (already complete)')) == (0, len(GOOD))
    assert not os.path.exists(f'{out}.parts')
    same_contents(out, uninterrupted)
    check_output(out, reference)


def test_write_failure_in_the_middle_of_a_video_keeps_the_others(tool, video_dir, tmp_path, tiny_clip_file,
                                                                 reference, monkeypatch, capsys):
    """The disk fills up while the third video's features are being written: exit 3, then resume."""
    import errno
    uninterrupted = tmp_path / 'uninterrupted.h5'
    tool.main(tool_args(video_dir, uninterrupted, tiny_clip_file))
    out = tmp_path / 'clip.h5'
    real = h5py.Group.create_dataset
    written = []

    def fill_disk_at_third(self, name, *args, **kwargs):
        dataset = real(self, name, *args, **kwargs)  # some bytes are in the file already
        if len(written) == 2:
            raise OSError(errno.ENOSPC, 'No space left on device')
        written.append(name)
        return dataset

    monkeypatch.setattr(h5py.Group, 'create_dataset', fill_disk_at_third)
    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 3
    err = capsys.readouterr().err
    assert re.search(r'cannot write the features of \w+ to .*clip\.h5\.parts/\w+\.h5: .*No space left', err), err
    assert complete_ids(str(out)) == set(written) and len(written) == 2
    monkeypatch.setattr(h5py.Group, 'create_dataset', real)

    assert tool.main(tool_args(video_dir, out, tiny_clip_file)) == 1
    text = capsys.readouterr().out
    assert (summary_count(text, 'done'), summary_count(text, r'skipped (already complete)')) == (len(GOOD) - 2, 2)
    same_contents(out, uninterrupted)
    check_output(out, reference)


def test_a_folder_without_videos_is_an_error(tool, tmp_path, tiny_clip_file, capsys):
    """It used to exit 0 with a summary of zeros and no features."""
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('x')
    assert tool.main(tool_args(tmp_path / 'empty', tmp_path / 'f.h5', tiny_clip_file)) == 2
    assert f'no video files in {tmp_path / "empty"}' in capsys.readouterr().err
    assert not (tmp_path / 'f.h5').exists()


def test_two_runs_into_one_file_keep_every_video(video_dir, tmp_path, tiny_clip_file, reference):
    """Two extractions over different halves of a folder into the same OUT.h5 at the same time: every video
    of both is in OUT.h5 afterwards and nothing is left beside it."""
    names = sorted(GOOD.values())
    out = tmp_path / 'clip.h5'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    procs = []
    for k, half in enumerate((names[:len(names) // 2], names[len(names) // 2:])):
        listing = tmp_path / f'half{k}.txt'
        listing.write_text(''.join(f'{video_dir / n}\n' for n in half))
        procs.append(subprocess.Popen([sys.executable, str(TOOL), *tool_args(listing, out, tiny_clip_file)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr[-3000:]
    check_output(out, reference)
    assert sorted(os.listdir(tmp_path)) == ['clip.h5', 'half0.txt', 'half1.txt', 'videos']


def test_a_read_only_output_is_reported_before_decoding(tool, video_dir, tmp_path, tiny_clip_file, monkeypatch,
                                                        capsys):
    """Exit 3 naming the file, no video decoded, and no "free space" advice (the disk is not full)."""
    import errno
    from zeetad.video import extract
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / 'ro')):
            raise OSError(errno.EROFS, 'Read-only file system', path)
        return real_open(path, *args, **kwargs)

    def no_decoding(*args, **kwargs):
        raise AssertionError('decoding started')

    (tmp_path / 'ro').mkdir()
    monkeypatch.setattr(os, 'open', read_only)
    monkeypatch.setattr(extract, 'make_frame_loader', no_decoding)
    assert tool.main(tool_args(video_dir, tmp_path / 'ro' / 'clip.h5', tiny_clip_file)) == 3
    err = capsys.readouterr().err
    assert f'error: cannot write {tmp_path / "ro" / "clip.h5"}: the folder {tmp_path / "ro"} is not writable ' \
           '(Read-only file system)' in err
    assert 'free space' not in err and 'make the output writable' in err and 'Traceback' not in err
