"""Fixtures of tests/video: real little videos (see video_factory.py) and a tiny random CLIP checkpoint."""
import logging
import os
import shutil
from fractions import Fraction

import pytest
from video_factory import CORRUPT, VIDEOS, write_video

from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, make_random_clip_checkpoint


@pytest.fixture(scope='session')
def video_files(tmp_path_factory):
    """``{name: path}`` of the test videos (and the corrupt one), written once per session."""
    root = tmp_path_factory.mktemp('videos')
    paths = {name: write_video(str(root / name), *spec) for name, spec in VIDEOS.items()}
    whole = write_video(str(root / 'whole.mp4'), 'libx264', Fraction(30), 30)
    with open(whole, 'rb') as f:
        data = f.read()
    os.remove(whole)
    paths[CORRUPT] = str(root / CORRUPT)
    with open(paths[CORRUPT], 'wb') as f:  # mp4 without its index ("moov") atom: unreadable
        f.write(data[:len(data) // 2])
    return paths


@pytest.fixture
def video_dir(tmp_path, video_files):
    """A fresh folder with the three good videos and the corrupt one."""
    folder = tmp_path / 'videos'
    folder.mkdir()
    for name, path in video_files.items():
        shutil.copy(path, folder / name)
    return folder


@pytest.fixture(scope='session')
def tiny_clip_file(tmp_path_factory):
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'
    return make_random_clip_checkpoint(str(path), TINY_CLIP_CONFIG, seed=0)


@pytest.fixture(scope='session')
def tiny_encoder(tiny_clip_file):
    from zeetad.video import ClipImageEncoder
    return ClipImageEncoder(None, tiny_clip_file, TINY_CLIP_CONFIG).to_device('cpu')
