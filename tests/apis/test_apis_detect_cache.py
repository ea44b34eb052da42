"""tools/detect.py's feature cache is keyed by the video file, not by its stem."""
import json
import os

import pytest

from detect_helpers import write_video, write_zeetad_checkpoint, write_zeetad_config
from test_apis_detect import detect

CLASSES = 'high jump, pole vault'


@pytest.fixture(scope='module')
def two_x(tmp_path_factory, tiny_clip_ckpt):
    root = tmp_path_factory.mktemp('cache')
    for sub, seed in (('a', 0), ('b', 7)):
        (root / sub).mkdir()
        write_video(str(root / sub / 'x.mp4'), 9.0, seed=seed)
    cfg = write_zeetad_config(str(root / 'cfg.py'), tiny_clip_ckpt)
    return dict(root=root, cfg=cfg, ckpt=write_zeetad_checkpoint(str(root / 'model.pth'), cfg))


def _run(setup, video, out):
    assert detect(video, '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                  '--out', out) == 0
    return json.loads(out.read_text())['results']['x']


def test_same_stem_in_another_folder_is_not_served_from_the_cache(two_x):
    root = two_x['root']
    fresh_b = _run(two_x, root / 'b' / 'x.mp4', root / 'fresh' / 'det.json')
    first_a = _run(two_x, root / 'a' / 'x.mp4', root / 'shared' / 'det_a.json')
    assert first_a != fresh_b  # different videos, different detections
    again_b = _run(two_x, root / 'b' / 'x.mp4', root / 'shared' / 'det_b.json')  # same --out folder as a/x.mp4
    assert again_b == fresh_b


def test_a_replaced_file_is_extracted_again(two_x, tmp_path):
    video = tmp_path / 'x.mp4'
    write_video(str(video), 9.0, seed=0)
    first = _run(two_x, video, tmp_path / 'out' / 'det.json')
    write_video(str(video), 9.0, seed=7)  # same path and size class, new content and modification time
    os.utime(video, ns=(os.stat(video).st_atime_ns, os.stat(video).st_mtime_ns + 10 ** 9))
    second = _run(two_x, video, tmp_path / 'out' / 'det2.json')
    assert second != first
    assert second == _run(two_x, two_x['root'] / 'b' / 'x.mp4', tmp_path / 'other' / 'det.json')


@pytest.mark.parametrize('option, expected', [
    ('test_evaluator.nms.sigam=0.5', "test_evaluator.nms: unknown key 'sigam' (did you mean 'sigma'?)"),
    ('test_dataloader.dataset.window_overlap=abc', "window_overlap: expected a number, got the string 'abc'"),
    ('nonexistent_key=1', "--cfg-options nonexistent_key: no key 'nonexistent_key'"),
])
def test_detect_checks_the_config_before_any_work(two_x, capsys, option, expected):
    rc = detect(two_x['root'] / 'a' / 'x.mp4', '--classes', CLASSES, '--config', two_x['cfg'], '--checkpoint',
                two_x['ckpt'], '--out', two_x['root'] / 'bad' / 'det.json', '--cfg-options', option)
    assert rc == 2 and expected in capsys.readouterr().err
    assert not (two_x['root'] / 'bad').exists()
