"""A truncated file whose header promises the whole video: warned about, and its decodable duration used."""
import warnings
from fractions import Fraction

import pytest
from video_factory import VIDEOS, write_video

from zeetad.video.decode import iter_frames
from zeetad.video.probe import probe_video


@pytest.fixture(scope='module')
def truncated(tmp_path_factory):
    """Matroska, 20 s at 25 fps, cut after 48 % of its bytes: the header still says 20 s."""
    root = tmp_path_factory.mktemp('truncated')
    whole = write_video(str(root / 'whole.mkv'), 'mpeg4', Fraction(25), 500)
    data = open(whole, 'rb').read()
    path = root / 'cut.mkv'
    path.write_bytes(data[:int(len(data) * 0.48)])
    return str(path)


def test_truncated_video_warns_with_both_durations_and_uses_the_decoded_one(truncated):
    assert probe_video(truncated).duration_s == pytest.approx(20.0)  # what the header says
    decoded = sum(1 for _ in iter_frames(truncated, 25.0)) / 25.0
    assert 8.0 < decoded < 11.0
    with pytest.warns(UserWarning, match=r'cut.mkv: the header says 20.00 s but the frames end at 9\.\d\d s'):
        info = probe_video(truncated, check_end=True)
    assert info.duration_s == pytest.approx(decoded, abs=0.1) and info.header_duration_s == pytest.approx(20.0)


def test_detect_probes_the_decoded_duration(truncated):
    from zeetad.apis import probe_videos
    with pytest.warns(UserWarning, match='header says 20.00 s'):
        (video,), failed = probe_videos(truncated)
    assert not failed and video.duration == pytest.approx(9.6, abs=0.1)


@pytest.mark.parametrize('name', sorted(VIDEOS))
def test_whole_videos_keep_their_duration_without_a_warning(video_files, name):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        checked = probe_video(video_files[name], check_end=True)
    assert checked == probe_video(video_files[name])
