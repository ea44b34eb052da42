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


def test_detect_two_videos_with_workers_after_decoding(tmp_path, tiny_clip_ckpt):
    videos = tmp_path / 'videos'
    videos.mkdir()
    write_video(str(videos / 'match_a.mp4'), 12.0, seed=0)
    write_video(str(videos / 'match_b.mp4'), 9.5, seed=1)
    cfg = write_zeetad_config(str(tmp_path / 'cfg.py'), tiny_clip_ckpt)
    ckpt = write_zeetad_checkpoint(str(tmp_path / 'model.pth'), cfg)
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
