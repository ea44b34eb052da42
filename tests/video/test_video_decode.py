"""probe_video / iter_frames on real files: metadata, the k/fps grid, which frame each time gets, errors."""
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zeetad.video.decode import iter_frames, sample_count
from zeetad.video.probe import VideoDecodeError, VideoInfo, probe_video

from video_factory import CORRUPT, HEIGHT, VIDEOS, WIDTH, read_index


def expected_index(t: float, rate: Fraction, num_frames: int) -> int:
    """The documented rule: the first frame at or after t; the last frame past the last frame's start."""
    return min(math.ceil(Fraction(t).limit_denominator(10 ** 6) * rate), num_frames - 1)


@pytest.mark.parametrize('name', sorted(VIDEOS))
def test_probe_reads_container_metadata(video_files, name):
    _, rate, num = VIDEOS[name]
    info = probe_video(video_files[name])
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == pytest.approx(float(rate), rel=1e-9)
    assert info.num_frames == (None if name.endswith(('.mkv', '.ts')) else num)  # no frame count stored
    assert info.duration_s == pytest.approx(num / float(rate), abs=1e-3)


@pytest.mark.parametrize('name', sorted(VIDEOS))
@pytest.mark.parametrize('fps', [1.0, 3.0, 2.5])
def test_frames_sit_on_the_k_over_fps_grid(video_files, name, fps):
    _, rate, num = VIDEOS[name]
    out = list(iter_frames(video_files[name], fps))
    duration = num / rate
    assert len(out) == sample_count(float(duration), fps) == math.ceil(duration * Fraction(fps) - Fraction(1, 10 ** 9))
    for k, (t, frame) in enumerate(out):
        assert t == k / fps  # exact, not the frame's own time
        assert frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8
        assert read_index(frame) == expected_index(t, rate, num), (name, t)


def test_native_rate_returns_every_frame_once(video_files):
    out = list(iter_frames(video_files['square_h264.mp4'], 30.0))
    assert [read_index(f) for _, f in out] == list(range(60))


def test_fps_above_the_video_rate_repeats_frames(video_files):
    out = list(iter_frames(video_files['square_mpeg4.avi'], 50.0))  # 25 fps video
    assert len(out) == 150
    indices = [read_index(f) for _, f in out]
    assert indices[:6] == [0, 1, 1, 2, 2, 3]  # t = 0.02 -> frame at 0.04 (at or after)
    assert indices[-1] == 74
    assert out[1][1] is not out[2][1]  # repeated frames are separate arrays


def test_start_and_end_select_a_window(video_files):
    path = video_files['square_mpeg4.avi']
    out = list(iter_frames(path, 4.0, start_s=1.1, end_s=2.0))
    assert [t for t, _ in out] == [1.25, 1.5, 1.75]
    assert [read_index(f) for _, f in out] == [expected_index(t, Fraction(25), 75) for t, _ in out]
    assert [t for t, _ in iter_frames(path, 1.0, start_s=1.0, end_s=1.0)] == []
    tail = list(iter_frames(path, 1.0, start_s=2.5))
    assert [t for t, _ in tail] == [] and len(list(iter_frames(path, 1.0, start_s=2.0))) == 1


@pytest.mark.parametrize('name', sorted(VIDEOS))
def test_window_after_seek_matches_full_decode(video_files, name):
    path = video_files[name]
    full = {t: read_index(f) for t, f in iter_frames(path, 10.0)}
    part = [(t, read_index(f)) for t, f in iter_frames(path, 10.0, start_s=1.05, end_s=1.55)]
    assert [t for t, _ in part] == [1.1, 1.2, 1.3, 1.4, 1.5]
    assert all(full[t] == i for t, i in part)


def test_corrupt_and_missing_files_raise_video_decode_error(video_files, tmp_path):
    with pytest.raises(VideoDecodeError) as err:
        list(iter_frames(video_files[CORRUPT], 1.0))
    assert err.value.path == video_files[CORRUPT] and 'cannot open' in err.value.reason
    with pytest.raises(VideoDecodeError):
        probe_video(video_files[CORRUPT])
    text = tmp_path / 'notes.mp4'
    text.write_text('not a video at all\n' * 50)
    with pytest.raises(VideoDecodeError):
        next(iter_frames(str(text), 1.0))
    with pytest.raises(VideoDecodeError, match='cannot open'):
        probe_video(str(tmp_path / 'missing.avi'))


def test_video_decode_error_survives_pickling():
    err = pickle.loads(pickle.dumps(VideoDecodeError('/x/y.mp4', 'no video stream')))
    assert (err.path, err.reason, str(err)) == ('/x/y.mp4', 'no video stream', '/x/y.mp4: no video stream')


def test_bad_arguments(video_files):
    path = video_files['square_h264.mp4']
    for kwargs in (dict(fps=0.0), dict(fps=-1.0), dict(fps=float('nan')), dict(fps=1.0, start_s=-1.0),
                   dict(fps=1.0, start_s=2.0, end_s=1.0)):
        with pytest.raises(ValueError):
            next(iter_frames(path, **kwargs))


def test_sample_count():
    assert sample_count(3.0, 1.0) == 3 and sample_count(3.0001, 1.0) == 4 and sample_count(0.2, 1.0) == 1
    assert sample_count(1.6683333, 3.0) == 6


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(VIDEOS)), fps=st.floats(0.2, 70.0), start=st.floats(0.0, 2.0),
       span=st.one_of(st.none(), st.floats(0.0, 2.0)))
def test_sampling_rule_holds_for_any_rate_and_window(video_files, name, fps, start, span):
    _, rate, num = VIDEOS[name]
    end = None if span is None else start + span
    out = list(iter_frames(video_files[name], fps, start_s=start, end_s=end))
    step = Fraction(fps).limit_denominator(10 ** 6)
    video_end, ms = Fraction(num) / rate, Fraction(1, 1000)
    stop = video_end if end is None else min(video_end, Fraction(end).limit_denominator(10 ** 9))
    first = math.ceil(Fraction(start).limit_denominator(10 ** 9) * step - Fraction(1, 10 ** 9))
    expected = [float(Fraction(k) / step) for k in range(first, first + 10_000) if Fraction(k) / step < stop]
    times = [t for t, _ in out]
    # A timestamp within 1 ms of the video's end may fall either side of the container's rounded end.
    optional = [t for t in expected if Fraction(t).limit_denominator(10 ** 9) >= video_end - ms]
    assert times == expected or times == [t for t in expected if t not in optional]
    for t, frame in out:
        want = expected_index(t, rate, num)
        # Within 1 ms after a frame's start the container's rounding of times may pick that frame.
        just_after = want > 0 and Fraction(t).limit_denominator(10 ** 9) - (want - 1) / rate <= Fraction(1, 1000)
        assert read_index(frame) in ((want - 1, want) if just_after else (want,)), (t, want)
