"""tools/detect.py end to end on little generated videos: tiny random CLIP, tiny random ZEETAD checkpoint."""
import importlib.util
import json
import os

import numpy as np
import pytest
import torch

from testing_utils import ROOT
from detect_helpers import write_video, write_zeetad_checkpoint, write_zeetad_config

CLASSES = 'high jump, pole vault, a person falling'
NAMES = ['high jump', 'pole vault', 'a person falling']


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f'tool_{name}', os.path.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def detect(*args):
    return load_tool('detect').main([str(a) for a in args] + ['--num-workers', '0', '--no-progress'])


@pytest.fixture(scope='module')
def setup(tmp_path_factory, tiny_clip_ckpt):
    root = tmp_path_factory.mktemp('detect')
    videos = root / 'videos'
    videos.mkdir()
    write_video(str(videos / 'match_a.mp4'), 12.0, seed=0)  # 24 frames at 2 fps: two windows of 16
    write_video(str(videos / 'match_b.mp4'), 9.5, seed=1)
    cfg = write_zeetad_config(str(root / 'cfg.py'), tiny_clip_ckpt)
    ckpt = write_zeetad_checkpoint(str(root / 'model.pth'), cfg)
    return dict(root=root, videos=videos, cfg=cfg, ckpt=ckpt, clip=tiny_clip_ckpt)


@pytest.fixture(scope='module')
def first_run(setup):
    out = setup['root'] / 'out' / 'det.json'
    rc = detect(setup['videos'], '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                '--out', out, '--plot', '--plot-thr', '0')
    return rc, out


def test_detect_writes_official_results_table_and_timelines(setup, first_run):
    from zeetad.apis import load_curves
    from zeetad.visualization import png_size, timeline_size_px
    rc, out = first_run
    assert rc == 0
    data = json.loads(out.read_text())
    assert set(data) == {'version', 'results', 'external_data'} and not data['external_data']['used']
    assert sorted(data['results']) == ['match_a', 'match_b']
    for vid, duration in (('match_a', 12.0), ('match_b', 9.5)):
        dets = data['results'][vid]
        assert 0 < len(dets) <= 200 and {d['label'] for d in dets} <= set(NAMES)
        segs = np.array([d['segment'] for d in dets])
        assert (segs[:, 0] >= 0).all() and (segs[:, 1] <= duration + 1e-6).all() and (segs[:, 1] > segs[:, 0]).all()
        scores = [d['score'] for d in dets]
        assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
        assert png_size(str(out.parent / 'det_plots' / f'{vid}.png')) == timeline_size_px(3, True)
        curves = load_curves(str(out.parent / 'det_curves.npz'), vid)
        assert list(curves) == NAMES
        t, v = curves['high jump']
        assert len(t) == int(np.ceil(duration * 2)) and np.allclose(np.diff(t), 0.5) and np.abs(v).max() <= 1
    table = (out.parent / 'det.txt').read_text()
    assert table.startswith('match_a, 12.0 s:') and 'match_b, 9.5 s:' in table and 'class' in table
    assert len(list((out.parent / 'zeetad_cache').glob('clip_zeetad-tiny-clip_2fps_*.h5'))) == 1


def test_detect_equals_the_test_pipeline(setup, first_run, tmp_path):
    """The same video through TADDataset + TADMetric.merge (what tools/test.py runs) gives the same detections."""
    from zeetad.apis import build_merger, init_detector, load_detect_config
    from zeetad.apis.features import source_key
    from zeetad.datasets import TADDataset, tad_collate
    from zeetad.video import probe_video
    _, out = first_run
    cache = next((out.parent / 'zeetad_cache').glob('clip_*.h5'))
    names = sorted(NAMES)  # the dataset orders classes by name
    # the cache names each video by its source_key (stem + hash of path, size, mtime)
    key = {vid: source_key(vid, str(setup['videos'] / f'{vid}.mp4')) for vid in ('match_a', 'match_b')}
    database = {key[vid]: dict(subset='Test', duration=probe_video(str(setup['videos'] / f'{vid}.mp4')).duration_s,
                               fps=4.0, annotations=[dict(label=names[i], segment=[1.0, 2.0]) for i in range(k)])
                for vid, k in (('match_a', 3), ('match_b', 1))}
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(database=database)))
    stream = dict(format='hdf5', path=str(cache), dim=256, timebase=dict(sample_fps=2.0, offset_s=0.0))
    ds = TADDataset(ann_file=str(ann), subset='Test', role='test', loc_features=stream, clip_features=stream,
                    window_size=16, window_overlap=0.25, test_mode=True, verbose=False)
    assert list(ds.metainfo['classes']) == names
    cfg = load_detect_config(setup['cfg'])
    model = init_detector(cfg, setup['ckpt'])
    with torch.no_grad():
        windows = model.test_step(tad_collate([ds[i] for i in range(len(ds))]))
    assert len(windows) == 4  # two windows per video
    merger = build_merger(cfg)
    merger.dataset_meta = dict(durations=ds.metainfo['durations'])
    expected = merger.merge(windows)
    results = json.loads(out.read_text())['results']  # detect scored the classes in the user's order

    stem = {k: vid for vid, k in key.items()}
    for cached, merged in expected.items():
        vid = stem[cached]
        want = sorted(zip([names[c] for c in merged['labels']], merged['scores'], merged['segments'].tolist()),
                      key=lambda d: (d[0], -d[1]))
        got = sorted(((d['label'], d['score'], d['segment']) for d in results[vid]), key=lambda d: (d[0], -d[1]))
        assert [d[0] for d in got] == [d[0] for d in want]
        np.testing.assert_allclose([d[1] for d in got], [d[1] for d in want], rtol=1e-5)
        np.testing.assert_allclose([d[2] for d in got], [d[2] for d in want], atol=1e-4)


def test_second_run_reuses_cached_features(setup, first_run, monkeypatch):
    import zeetad.video.clip_image as clip_image
    _, out = first_run

    def no_encoder(*args, **kwargs):
        raise AssertionError('features were extracted again')
    monkeypatch.setattr(clip_image.ClipImageEncoder, '__init__', no_encoder)
    rc = detect(setup['videos'], '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                '--out', out.parent / 'again.json')
    assert rc == 0
    assert json.loads((out.parent / 'again.json').read_text())['results'] == \
        json.loads(out.read_text())['results']


def test_no_classes(setup, capsys):
    assert detect(setup['videos'], '--classes', ' , ;', '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                  '--out', setup['root'] / 'x' / 'none.json') == 2
    assert 'no class names given' in capsys.readouterr().err


def test_unreadable_video(setup, capsys, tmp_path):
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(2000))
    assert detect(bad, '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                  '--out', tmp_path / 'o.json') == 2
    err = capsys.readouterr().err
    assert 'cannot read video' in err and 'broken.mp4' in err


def test_folder_with_one_unreadable_video_does_the_others(setup, capsys, tmp_path):
    folder = tmp_path / 'mixed'
    folder.mkdir()
    os.symlink(setup['videos'] / 'match_b.mp4', folder / 'match_b.mp4')
    (folder / 'broken.avi').write_bytes(os.urandom(1000))
    out = setup['root'] / 'out' / 'mixed.json'  # the cache next to it holds match_b already
    assert detect(folder, '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                  '--out', out) == 1
    assert list(json.loads(out.read_text())['results']) == ['match_b']
    assert 'broken: cannot read' in capsys.readouterr().err


def test_checkpoint_with_another_text_encoder(setup, capsys, tmp_path):
    from zeetad.testing.tiny_clip import make_random_clip_checkpoint
    other_clip = make_random_clip_checkpoint(str(tmp_path / 'other_clip.pt'), seed=1)
    other_cfg = write_zeetad_config(str(tmp_path / 'other.py'), other_clip)
    other_ckpt = write_zeetad_checkpoint(str(tmp_path / 'other.pth'), other_cfg)
    assert detect(setup['videos'], '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', other_ckpt,
                  '--out', tmp_path / 'o.json') == 2
    err = capsys.readouterr().err
    assert 'its CLIP text encoder does not match the config' in err and 'differs' in err
    assert not (tmp_path / 'zeetad_cache').exists()  # refused before any feature extraction


def test_video_shorter_than_the_window(setup, capsys, tmp_path):
    short = write_video(str(tmp_path / 'short.mp4'), 5.0, seed=2)  # 10 frames at 2 fps < window 16
    args = [short, '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
            '--out', tmp_path / 'o.json']
    assert detect(*args) == 2
    assert "shorter than the model's window of 16 steps (8.0 s)" in capsys.readouterr().err
    assert detect(*args, '--allow-short') == 0
    dets = json.loads((tmp_path / 'o.json').read_text())['results']['short']
    assert dets and max(d['segment'][1] for d in dets) <= 5.0 + 1e-6


def test_i3d_config_needs_localisation_features(setup, capsys, tmp_path):
    cfg = tmp_path / 'i3d.py'
    base = os.path.join(ROOT, 'configs', 'zeetad', 'zeetad_synthetic_thumos14_demo.py')
    cfg.write_text(f'_base_ = [{base!r}]\n')
    assert detect(setup['videos'], '--classes', CLASSES, '--config', cfg, '--checkpoint', setup['ckpt'],
                  '--out', tmp_path / 'o.json') == 2
    assert '--loc-features' in capsys.readouterr().err


def test_a_class_named_twice_is_refused_before_any_work(setup, capsys, tmp_path):
    """'High Jump' beside 'high jump' would give every detection twice with the scores split between them."""
    assert detect(setup['videos'], '--classes', 'high jump, pole vault, High Jump', '--config', setup['cfg'],
                  '--checkpoint', setup['ckpt'], '--out', tmp_path / 'o.json') == 2
    err = capsys.readouterr().err
    assert err == ("error: class names given more than once (case and spaces ignored): 'high jump' and "
                   "'High Jump'; give each class once\n")
    assert not (tmp_path / 'zeetad_cache').exists() and not (tmp_path / 'o.json').exists()


def test_two_videos_with_one_stem_exit_2_with_one_line(setup, capsys, tmp_path):
    folder = tmp_path / 'twins'
    folder.mkdir()
    os.symlink(setup['videos'] / 'match_b.mp4', folder / 'match.mp4')
    os.symlink(setup['videos'] / 'match_b.mp4', folder / 'match.mkv')
    assert detect(folder, '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                  '--out', tmp_path / 'o.json') == 2
    err = capsys.readouterr().err
    assert err.startswith("error: two videos share the id 'match': ") and err.count('\n') == 1
    assert 'Traceback' not in err


def test_an_unwritable_output_is_refused_before_any_work(setup, capsys, tmp_path, monkeypatch):
    import errno
    import tempfile
    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if str(dir).startswith(str(tmp_path / 'ro')):
            raise OSError(errno.EROFS, 'Read-only file system')
        return real(*args, dir=dir, **kwargs)

    (tmp_path / 'ro').mkdir()
    monkeypatch.setattr(tempfile, 'mkstemp', read_only)
    assert detect(setup['videos'], '--classes', CLASSES, '--config', setup['cfg'], '--checkpoint', setup['ckpt'],
                  '--out', tmp_path / 'ro' / 'o.json') == 2
    assert capsys.readouterr().err == (f'error: cannot write {tmp_path / "ro" / "o.json"}: the folder '
                                       f'{tmp_path / "ro"} is not writable (Read-only file system)\n')
    assert os.listdir(tmp_path / 'ro') == []


def test_checkpoints_differing_only_in_denoising_weights_are_accepted(setup, tmp_path):
    """DN denoising queries are used in training only: a checkpoint trained with them detects with a config
    without them and the other way round (both were refused as not fitting the model)."""
    dn_cfg = tmp_path / 'dn.py'
    dn_cfg.write_text(f"_base_ = [{str(setup['cfg'])!r}]\nmodel = dict(denoising=dict(_delete_=True, num_groups=2))\n")
    dn_ckpt = write_zeetad_checkpoint(str(tmp_path / 'dn.pth'), str(dn_cfg))
    assert any(k.startswith('denoising.') for k in torch.load(dn_ckpt)['state_dict'])
    for cfg, ckpt in ((setup['cfg'], dn_ckpt), (dn_cfg, setup['ckpt'])):
        out = tmp_path / f'{os.path.basename(str(ckpt))}.json'
        assert detect(setup['videos'], '--classes', CLASSES, '--config', cfg, '--checkpoint', ckpt, '--out', out,
                      '--cache-dir', setup['root'] / 'out' / 'zeetad_cache') == 0
        assert sorted(json.loads(out.read_text())['results']) == ['match_a', 'match_b']
