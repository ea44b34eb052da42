"""tools/detect.py --zeal with a tiny random LVLM and tiny CLIP, and tools/visualize.py on its output."""
import importlib.util
import json
import os

import numpy as np
import pytest

from testing_utils import ROOT
from detect_helpers import write_video, write_zeal_config

CLASSES = 'high jump, pole vault, a person falling'


def tool(name):
    path = os.path.join(ROOT, 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tool_{os.path.basename(name)}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope='module')
def zeal_run(tmp_path_factory, tiny_clip_ckpt):
    pytest.importorskip('transformers')
    from zeetad.testing.tiny_lvlm import make_tiny_lvlm
    root = tmp_path_factory.mktemp('zeal_detect')
    (root / 'videos').mkdir()
    write_video(str(root / 'videos' / 'clip_a.mp4'), 12.0, seed=3)
    write_video(str(root / 'videos' / 'clip_b.mp4'), 6.0, seed=4)
    lvlm = make_tiny_lvlm(str(root / 'lvlm'))
    cfg = write_zeal_config(str(root / 'zeal.py'), tiny_clip_ckpt)
    args = [str(root / 'videos'), '--classes', CLASSES, '--zeal', '--config', cfg, '--lvlm', lvlm, '--plot',
            '--plot-thr', '0', '--num-workers', '0', '--no-progress']
    rc = tool('detect')(args + ['--out', str(root / 'out' / 'zeal.json')])
    return dict(root=root, args=args, rc=rc, out=root / 'out' / 'zeal.json')


def test_zeal_detects_and_caches(zeal_run, monkeypatch):
    from zeetad.apis import load_curves
    from zeetad.visualization import png_size, timeline_size_px
    assert zeal_run['rc'] == 0
    results = json.loads(zeal_run['out'].read_text())['results']
    assert sorted(results) == ['clip_a', 'clip_b']
    for vid, duration in (('clip_a', 12.0), ('clip_b', 6.0)):
        for d in results[vid]:
            assert d['label'] in CLASSES.split(', ') and 0 <= d['segment'][0] < d['segment'][1] <= duration
        curves = load_curves(str(zeal_run['root'] / 'out' / 'zeal_curves.npz'), vid)
        # top-3 class filter keeps all three names: a start and an end curve each, one value per second
        assert len(curves) == 6 and all(len(t) == int(np.ceil(duration)) for t, _ in curves.values())
        assert all(((v > 0) & (v < 1)).all() for _, v in curves.values())
        assert png_size(str(zeal_run['root'] / 'out' / 'zeal_plots' / f'{vid}.png')) == timeline_size_px(3, True)
    cache = zeal_run['root'] / 'out' / 'zeetad_cache'
    assert len(list(cache.glob('zeal_confidences_*.h5'))) == 1 and len(list(cache.glob('zeal_queries_*.json'))) == 1

    import zeetad.zeal.lvlm_scorer as scorer
    import zeetad.video.clip_image as clip_image

    def refuse(*args, **kwargs):
        raise AssertionError('a cached stage ran again')
    monkeypatch.setattr(scorer.YesNoScorer, 'from_pretrained', classmethod(refuse))
    monkeypatch.setattr(clip_image.ClipImageEncoder, '__init__', refuse)
    again = zeal_run['root'] / 'out' / 'again.json'
    assert tool('detect')(zeal_run['args'] + ['--out', str(again)]) == 0
    assert json.loads(again.read_text())['results'] == results


def test_zeal_needs_an_lvlm(zeal_run, capsys):
    args = [a for a in zeal_run['args'] if a != '--lvlm' and not a.endswith('lvlm')]
    assert tool('detect')(args + ['--out', str(zeal_run['root'] / 'x.json')]) == 2
    assert '--zeal needs --lvlm' in capsys.readouterr().err


def test_visualize_timelines_and_metrics(zeal_run, tmp_path, capsys):
    from zeetad.visualization import PR_SIZE_PX, class_ap_size_px, png_size, timeline_classes, timeline_size_px
    gt = {'clip_a': dict(subset='Test', duration=12.0, annotations=[
        dict(label='high jump', segment=[1.0, 6.0]), dict(label='pole vault', segment=[7.0, 11.0])]),
        'clip_b': dict(subset='Test', duration=6.0, annotations=[dict(label='high jump', segment=[0.5, 3.0])]),
        'other': dict(subset='Validation', duration=9.0, annotations=[dict(label='swim', segment=[0, 1])])}
    gt_file = tmp_path / 'gt.json'
    gt_file.write_text(json.dumps(dict(database=gt)))
    main = tool('visualize')
    out = tmp_path / 'vis'
    assert main([str(zeal_run['out']), '--gt', str(gt_file), '--video', 'clip_a', '--out-dir', str(out)]) == 0
    preds = json.loads(zeal_run['out'].read_text())['results']['clip_a']
    rows = timeline_classes(preds, gt['clip_a']['annotations'], 0.05)
    assert rows[:2] == ['high jump', 'pole vault']
    assert png_size(str(out / 'clip_a.png')) == timeline_size_px(len(rows), True)  # detect's curves found by name
    assert main([str(zeal_run['out']), '--gt', str(gt_file), '--subset', 'Test', '--metrics', '--classes',
                 'high jump, pole vault', '--out-dir', str(out)]) == 0
    assert png_size(str(out / 'pr_curves.png')) == PR_SIZE_PX
    assert png_size(str(out / 'class_ap.png')) == class_ap_size_px(2)
    assert 'scoring 2 classes on 2 videos' in capsys.readouterr().out
    assert main([str(zeal_run['out']), '--metrics']) == 2
