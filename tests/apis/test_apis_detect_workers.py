"""`detect` on two videos with two decoding workers, in a process that decoded first, under a hard timeout."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from testing_utils import ROOT
from detect_helpers import write_video, write_zeetad_checkpoint, write_zeetad_config

HARD_TIMEOUT_S = 180


@pytest.fixture(scope='module')
def setup(tmp_path_factory, tiny_clip_ckpt):
    root = tmp_path_factory.mktemp('detect_workers')
    videos = root / 'videos'
    videos.mkdir()
    write_video(str(videos / 'match_a.mp4'), 12.0, seed=0)
    write_video(str(videos / 'match_b.mp4'), 9.5, seed=1)
    cfg = write_zeetad_config(str(root / 'cfg.py'), tiny_clip_ckpt)
    return videos, cfg, write_zeetad_checkpoint(str(root / 'model.pth'), cfg)


def test_detect_two_videos_with_workers_after_decoding(setup, tmp_path):
    videos, cfg, ckpt = setup
    out = tmp_path / 'out' / 'det.json'
    code = textwrap.dedent(f'''
        import sys
        from zeetad.video.decode import iter_frames
        assert len(list(iter_frames({str(videos / 'match_a.mp4')!r}, 2.0))) == 24
        from zeetad.cli.detect import main
        sys.exit(main([{str(videos)!r}, '--classes', 'high jump, pole vault', '--config', {cfg!r},
                       '--checkpoint', {ckpt!r}, '--out', {str(out)!r}, '--num-workers', '2', '--no-progress']))
    ''')
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    try:
        proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=HARD_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f'detect hung for {HARD_TIMEOUT_S} s:\n{(e.stderr or b"").decode(errors="replace")[-3000:]}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())['results']
    assert sorted(results) == ['match_a', 'match_b'] and all(results.values())


def test_a_decoding_worker_that_cannot_hand_frames_over_exits_3(setup, tmp_path, monkeypatch, capsys):
    import zeetad.video.extract as extract
    from zeetad.cli.detect import main
    videos, cfg, ckpt = setup

    def failing_loader(todo, *args, **kwargs):
        return [dict(video_id=todo[0].video_id, path=todo[0].path, index=0, frames=None, timestamps=None,
                     last=True, error='unable to allocate shared memory', fatal=True, info=None, decode_s=0.0)]

    monkeypatch.setattr(extract, 'make_frame_loader', failing_loader)
    rc = main([str(videos), '--classes', 'high jump', '--config', cfg, '--checkpoint', ckpt,
               '--out', str(tmp_path / 'det.json'), '--num-workers', '2', '--no-progress'])
    err = capsys.readouterr().err
    assert rc == 3 and 'decoding worker failed on' in err and 'unable to allocate shared memory' in err
    assert '--shm-size' in err and not (tmp_path / 'det.json').exists()
