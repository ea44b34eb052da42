"""Decoding workers never hang: not after the parent decoded (fork), not when shared memory is short.

Each case runs in a fresh interpreter under a hard timeout, so a regression fails here with the
output so far instead of stalling the suite.
"""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
from zeetad.video.frame_loader import VideoFrameChunks, chunk_byte_budget, make_frame_loader, worker_context
from zeetad.video.sources import VideoSource

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'data' / 'extract_clip_features.py'
HARD_TIMEOUT_S = 150
GOOD = ('square_mpeg4', 'square_h264', 'square_ntsc', 'square_24', 'square_ts')


def run_python(code: str, *, shm_size: str = None, timeout: int = HARD_TIMEOUT_S) -> subprocess.CompletedProcess:
    """``python -c code`` from the repository root; with ``shm_size``, inside a mount namespace whose
    ``/dev/shm`` is a tmpfs of that size (the rest of the machine keeps its own)."""
    cmd = [sys.executable, '-c', textwrap.dedent(code)]
    if shm_size is not None:
        script = f'mount -t tmpfs -o size={shm_size} tmpfs /dev/shm && exec "$@"'
        cmd = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    try:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode(errors='replace') + (e.stderr or b'').decode(errors='replace')
        pytest.fail(f'hung: no result after {timeout} s\n{out[-3000:]}')


def can_mount_tmpfs() -> bool:
    if shutil.which('unshare') is None:
        return False
    probe = subprocess.run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
                            'mount -t tmpfs -o size=64k tmpfs /dev/shm'], capture_output=True)
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not can_mount_tmpfs(), reason='needs root to mount a small /dev/shm (unshare)')


def test_workers_never_fork_the_caller():
    loader = make_frame_loader([], 1.0, num_workers=2)
    assert loader.multiprocessing_context.get_start_method() in ('forkserver', 'spawn')
    assert worker_context().get_start_method() != 'fork'
    assert make_frame_loader([], 1.0, num_workers=0).num_workers == 0


def test_decode_in_the_parent_then_extract_with_two_workers(video_dir, tiny_clip_file, tmp_path):
    """PyAV >= 14 / FFmpeg 8: a forked child of a process that converted frames to RGB waits forever."""
    out = tmp_path / 'clip.h5'
    proc = run_python(f'''
        import sys
        from zeetad.video.decode import iter_frames
        frames = [f for _, f in iter_frames({str(video_dir / 'square_h264.mp4')!r}, 4.0)]
        assert len(frames) == 8, len(frames)
        sys.argv = ['extract', {str(video_dir)!r}, {str(out)!r}, '--model', 'zeetad-tiny-clip',
                    '--model-config', {TINY_CLIP_CONFIG!r}, '--pretrained', {str(tiny_clip_file)!r}, '--fps', '2',
                    '--num-workers', '2', '--chunk-frames', '2', '--no-progress', '--plain']
        from zeetad.cli.extract import main
        sys.exit(main(sys.argv[1:]))
    ''')
    assert proc.returncode == 1, proc.stderr[-3000:]  # 1: the corrupt video failed, the rest are done
    with h5py.File(out, 'r') as h5:
        assert sorted(h5) == sorted(GOOD)


def test_chunk_budget_follows_free_shared_memory_and_file_size_limit(tmp_path):
    st = os.statvfs(tmp_path)
    budget = chunk_byte_budget(4, shm_dir=str(tmp_path))
    limit = None
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        limit = int(soft * 0.9)
    expected = int(st.f_bavail * st.f_frsize * 0.25) // 4
    assert budget == (expected if limit is None else min(expected, limit))
    assert chunk_byte_budget(4, shm_dir=str(tmp_path / 'missing')) in (None, limit)


def test_chunks_end_before_exceeding_their_byte_budget(video_files):
    """Full 96x64 frames are 18,432 bytes: a budget of 40,000 bytes holds two."""
    source = VideoSource('v', video_files['square_mpeg4.avi'])
    capped = list(VideoFrameChunks([source], 4.0, chunk_frames=5, chunk_bytes=40_000))
    free = list(VideoFrameChunks([source], 4.0, chunk_frames=5))
    assert [len(c['frames']) for c in free] == [5, 5, 2]
    assert [len(c['frames']) for c in capped] == [2, 2, 2, 2, 2, 2]
    assert [c['last'] for c in capped] == [False] * 5 + [True]
    np.testing.assert_array_equal(np.concatenate([c['frames'].numpy() for c in capped]),
                                  np.concatenate([c['frames'].numpy() for c in free]))
    np.testing.assert_array_equal(np.concatenate([c['timestamps'].numpy() for c in capped]), np.arange(12) / 4)


@needs_tmpfs
def test_extraction_in_a_small_shared_memory_never_hangs(video_dir, tiny_clip_file, tmp_path):
    """1 MiB of /dev/shm and 75-frame chunks of 3 KB frames from two workers: uncapped, a chunk that does not
    fit is dropped in the queue's feeder thread and the main process waits for it forever. Capped chunks
    usually fit; where the shared memory still runs out, the run ends with a named error (exit 3) and keeps
    every video it finished."""
    out = tmp_path / 'clip.h5'
    proc = run_python(f'''
        import sys
        from zeetad.cli.extract import main
        sys.exit(main([{str(video_dir)!r}, {str(out)!r}, '--model', 'zeetad-tiny-clip',
                       '--model-config', {TINY_CLIP_CONFIG!r}, '--pretrained', {str(tiny_clip_file)!r},
                       '--fps', '25', '--num-workers', '2', '--chunk-frames', '256', '--no-progress', '--plain']))
    ''', shm_size='1m')
    assert proc.returncode in (1, 3), proc.stderr[-3000:]  # 1: the corrupt video failed, the rest are done
    with h5py.File(out, 'r') as h5:
        done = sorted(h5)
        assert set(done) <= set(GOOD) and all(bool(h5[v].attrs['complete']) for v in done)
        if proc.returncode == 1:
            assert done == sorted(GOOD) and h5['square_mpeg4'].shape == (75, 256)
        else:
            assert 'through shared memory (/dev/shm)' in proc.stderr and '--shm-size' in proc.stderr


@needs_tmpfs
def test_a_chunk_that_cannot_fit_ends_the_run_with_a_named_error(video_files):
    """256 KiB of /dev/shm cannot hold even one 512 px frame (786 KB): the worker says so, the loader ends."""
    proc = run_python(f'''
        from zeetad.video.clip_image import FramePreprocessor
        from zeetad.video.frame_loader import make_frame_loader
        from zeetad.video.sources import VideoSource
        chunks = list(make_frame_loader([VideoSource('v', {video_files['square_mpeg4.avi']!r})], 4.0,
                                        FramePreprocessor(dict(size=512)), num_workers=1, chunk_frames=4))
        print([(c['fatal'], c['error']) for c in chunks])
    ''', shm_size='256k')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[(True, 'cannot hand a 0.8 MB chunk of 1 frames" in proc.stdout
    assert 'through shared memory (/dev/shm)' in proc.stdout


def test_worker_failure_exits_3_and_keeps_finished_videos(video_dir, tiny_clip_file, tmp_path, monkeypatch,
                                                          capsys):
    """The main process turns a worker's fatal chunk into exit status 3; videos written before stay."""
    import zeetad.video.extract as extract
    from zeetad.cli.extract import main
    real = extract.make_frame_loader

    def failing_loader(videos, *args, **kwargs):
        chunks = list(real(videos[:1], *args, **dict(kwargs, num_workers=0)))
        broken = dict(chunks[-1], frames=None, timestamps=None, video_id=videos[1].video_id,
                      path=videos[1].path, index=0, error='no space left on device', fatal=True)
        return chunks + [broken]

    monkeypatch.setattr(extract, 'make_frame_loader', failing_loader)
    out = tmp_path / 'clip.h5'
    rc = main([str(video_dir), str(out), '--model', 'zeetad-tiny-clip', '--model-config', TINY_CLIP_CONFIG,
               '--pretrained', str(tiny_clip_file), '--fps', '2', '--num-workers', '2', '--no-progress',
               '--plain'])
    err = capsys.readouterr().err
    assert rc == 3
    assert 'decoding worker failed on' in err and 'no space left on device' in err and '--shm-size' in err
    with h5py.File(out, 'r') as h5:
        assert len(h5) == 1 and bool(h5[next(iter(h5))].attrs['complete'])
