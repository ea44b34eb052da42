"""A non-editable install (``pip install --target``, no network) runs ``zeetad train``, ``zeetad test`` and
``zeetad detect`` from a directory outside the checkout, with the configs it needs read from the installed package."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from testing_utils import ROOT, write_tiny_dataset

CONFIG = 'zeetad/zeetad_synthetic_thumos14_demo.py'


def _install(tmp_path):
    """Copy the sources (the checkout stays clean of build/) and install them, without dependencies, to site/."""
    src = tmp_path / 'src'
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info')
    for name in ('zeetad', 'configs'):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ('setup.py', 'README.md'):
        shutil.copy(ROOT / name, src / name)
    site = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--no-build-isolation',
                    '--no-index', '--target', str(site), str(src)], check=True, capture_output=True, text=True)
    shutil.rmtree(src)  # nothing may be read from the sources after this
    return site


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('install')
    site = _install(tmp)
    # The installed copy first; the venv's own site-packages (torch, mmengine ...) after it. Not the checkout.
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS='1')
    run_dir = tmp / 'elsewhere'
    run_dir.mkdir()

    def run(*args, check=True):
        proc = subprocess.run([str(site / 'bin' / 'zeetad'), *args], cwd=run_dir, env=env, capture_output=True,
                              text=True, timeout=600)
        if check:
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    def python(code):
        return subprocess.run([sys.executable, '-c', code], cwd=run_dir, env=env, capture_output=True, text=True,
                              check=True).stdout.strip()

    return dict(site=site, run=run, python=python, cwd=run_dir)


def test_installed_package_is_the_one_run_and_ships_its_configs(installed):
    site = str(installed['site'])
    assert installed['python']('import zeetad; print(zeetad.__file__)').startswith(site)
    assert not [d for d in ('tools', 'benchmarks', 'tests') if os.path.exists(os.path.join(site, d))]  # checkout only
    shipped = installed['python'](f'from zeetad.utils.resources import shipped_config; '
                                  f'print(shipped_config({CONFIG!r}))')
    assert shipped.startswith(os.path.join(site, 'zeetad', '.mim', 'configs'))
    assert os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(shipped)), '_base_', 'clip',
                                       'zeetad-tiny-clip.json'))
    usage = installed['run']('--help').stdout
    assert all(cmd in usage for cmd in ('train', 'test', 'detect', 'extract'))
    bad = installed['run']('tets', check=False)
    assert bad.returncode == 2 and "did you mean 'test'" in bad.stderr


@pytest.mark.slow
def test_installed_zeetad_trains_and_tests_outside_the_checkout(installed, tiny_clip_ckpt):
    cwd = installed['cwd']
    data = write_tiny_dataset(cwd / 'data', loc_dim=16, clip_dim=12)
    base = installed['python'](f'from zeetad.utils.resources import shipped_config; print(shipped_config({CONFIG!r}))')
    dataset = (f"ann_file={data['ann_file']!r}, split=split, loc_features={data['loc_features']!r}, "
               f"clip_features={data['clip_features']!r}, window_size=64")
    (cwd / 'my_dataset.py').write_text(textwrap.dedent(f'''
        _base_ = [{base!r}]
        split = {data['split']!r}
        train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict({dataset}))
        test_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict({dataset}))
        val_dataloader = test_dataloader
        model = dict(
            localizer=dict(loc_dim=16, clip_dim=12, d_model=32,
                           transformer=dict(nhead=2, enc_layers=1, dec_layers=1, dim_ff=32, num_queries=6),
                           actionness=dict(hidden_dim=16)),
            # a configs/ path that is not under this directory: read from the installed package
            classifier=dict(text_encoder=dict(pretrained={tiny_clip_ckpt!r}, num_adapter_blocks=1,
                                              model_config_file='configs/_base_/clip/zeetad-tiny-clip.json')))
        train_cfg = dict(max_epochs=1, target_iters=None)
    '''))
    installed['run']('train', 'my_dataset.py', '--work-dir', 'work')
    assert (cwd / 'work' / 'epoch_1.pth').is_file()
    proc = installed['run']('test', 'my_dataset.py', 'work/epoch_1.pth', '--work-dir', 'work', '--out', 'pred.json')
    results = json.loads((cwd / 'pred.json').read_text())['results']
    assert sum(map(len, results.values())) > 0
    assert {d['label'] for dets in results.values() for d in dets} == {'Throw'}  # the one unseen class
    assert 'average_mAP' in proc.stdout + proc.stderr
    assert not (ROOT / 'work').exists() and not (ROOT / 'pred.json').exists()


@pytest.mark.slow
def test_installed_zeetad_detects_in_a_video_outside_the_checkout(installed, tiny_clip_ckpt, tmp_path, monkeypatch):
    pytest.importorskip('av')
    monkeypatch.syspath_prepend(str(ROOT / 'tests' / 'apis'))
    from detect_helpers import TINY_MODEL, write_video, write_zeetad_checkpoint
    cwd = installed['cwd']
    write_video(str(cwd / 'clip.mp4'), seconds=10.0)
    demo = 'zeetad/zeetad_clip_only_synthetic_thumos14_demo.py'
    text = dict(_delete_=True, type='CLIPTextEncoder', model_name='zeetad-tiny-clip', pretrained=tiny_clip_ckpt,
                model_config_file='configs/_base_/clip/zeetad-tiny-clip.json', num_adapter_blocks=1,
                adapter_width=16)
    body = (f'test_dataloader = dict(dataset=dict(window_size=16))\n'
            f'model = {dict(TINY_MODEL, classifier=dict(text_encoder=text))!r}\n')
    # the checkpoint is written in this process from the checkout's copy of the same config
    local = tmp_path / 'local.py'
    local.write_text(f"_base_ = [{str(ROOT / 'configs' / demo)!r}]\n" + body.replace(
        "'configs/_base_/clip/zeetad-tiny-clip.json'", repr(str(ROOT / 'configs/_base_/clip/zeetad-tiny-clip.json'))))
    ckpt = write_zeetad_checkpoint(str(cwd / 'model.pth'), str(local))
    base = installed['python'](f'from zeetad.utils.resources import shipped_config; print(shipped_config({demo!r}))')
    (cwd / 'detect_cfg.py').write_text(f'_base_ = [{base!r}]\n' + body)
    proc = installed['run']('detect', 'clip.mp4', '--classes', 'high jump, pole vault', '--config', 'detect_cfg.py',
                            '--checkpoint', ckpt, '--device', 'cpu', '--num-workers', '0', '--no-progress',
                            '--out', 'out/detections.json')
    results = json.loads((cwd / 'out' / 'detections.json').read_text())['results']
    assert list(results) == ['clip'] and results['clip'], proc.stdout
    assert {d['label'] for d in results['clip']} <= {'high jump', 'pole vault'}
    assert all(0.0 <= d['segment'][0] < d['segment'][1] <= 10.0 + 1e-6 for d in results['clip'])
    assert os.path.isdir(cwd / 'out' / 'zeetad_cache')  # features were extracted next to the output
