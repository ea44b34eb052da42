"""docs/custom_dataset.md, run as written: its bash blocks in order, in a fresh folder holding only videos.

Three substitutions keep it small enough for CPU tests, and nothing else is changed: the tiny random CLIP in
place of ViT-B/16 (extraction flags and the feature width), a tiny model and a two-epoch schedule appended to
the page's config, and this checkout's ``python -m zeetad`` for the installed ``zeetad`` command.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from testing_utils import ROOT

PAGE = ROOT / 'docs' / 'custom_dataset.md'


def _bash_blocks(text: str) -> list:
    return re.findall(r'```bash\n(.*?)```', text, flags=re.S)


def test_the_page_walks_extract_config_train_test_detect_in_order():
    commands = [m.group(1) for b in _bash_blocks(PAGE.read_text()) for m in re.finditer(r'^zeetad (\w+)', b, re.M)]
    assert commands == ['extract', 'train', 'test', 'detect']
    assert 'cat > configs/my_dataset.py' in PAGE.read_text() and 'cat > data/my/annotations.json' in PAGE.read_text()


def test_readme_config_is_the_pages():
    """The README's own-data config is the page's (which the test below runs), line for line."""
    readme = re.search(r'## Your own data.*?```python\n(.*?)```', (ROOT / 'README.md').read_text(), re.S).group(1)
    page = re.search(r"cat > configs/my_dataset.py <<'EOF'\n(.*?)EOF", PAGE.read_text(), re.S).group(1)
    assert readme.strip() and [line for line in readme.splitlines() if line not in page.splitlines()] == []


@pytest.mark.slow
def test_custom_dataset_page_runs_as_written(tmp_path, tiny_clip_ckpt):
    sys.path.insert(0, str(ROOT / 'tests' / 'apis'))
    from detect_helpers import TINY_MODEL, text_encoder, write_video
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
    blocks = _bash_blocks(PAGE.read_text())
    ann = json.loads(re.search(r"annotations\.json <<'EOF'\n(.*?)\nEOF", blocks[0], re.S).group(1))
    (tmp_path / 'videos').mkdir()
    for i, (vid, meta) in enumerate(ann['database'].items()):
        write_video(str(tmp_path / 'videos' / f'{vid}.mp4'), meta['duration'], seed=i)
    (tmp_path / 'configs').mkdir()
    for name in ('zeetad', '_base_'):  # the shipped configs a clone holds beside the user's file
        os.symlink(ROOT / 'configs' / name, tmp_path / 'configs' / name)

    tiny = dict(TINY_MODEL, classifier=dict(text_encoder=text_encoder(tiny_clip_ckpt)))
    tiny['localizer'] = dict(tiny['localizer'], loc_dim=256, clip_dim=256)
    small = (f"model = {tiny!r}\n"
             "train_cfg = dict(target_iters=None, max_epochs=2)\n"
             "for loader in (train_dataloader, test_dataloader):\n"
             "    loader.update(batch_size=4, num_workers=0, persistent_workers=False)\n")
    script = ['set -euxo pipefail']
    for block in blocks:
        block = block.replace('--model ViT-B-16 --pretrained openai',
                              f'--model zeetad-tiny-clip --model-config {TINY_CLIP_CONFIG} --pretrained {tiny_clip_ckpt}')
        block = re.sub(r'^zeetad ', '"$PY" -m zeetad ', block, flags=re.M)
        if 'cat > configs/my_dataset.py' in block:
            assert 'dim=512' in block
            block = block.replace('dim=512', 'dim=256') + f"cat >> configs/my_dataset.py <<'EOF'\n{small}EOF\n"
        script.append(block)
    env = dict(os.environ, PY=sys.executable, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1', MPLBACKEND='Agg')
    proc = subprocess.run(['bash', '-c', '\n'.join(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    import h5py
    with h5py.File(tmp_path / 'data' / 'my' / 'clip.h5') as f:  # 2 frames per second of every video
        assert sorted(f) == ['v1', 'v2', 'v3', 'v4'] and f['v1'].shape[0] in (79, 80, 81)
    assert 'average_mAP' in proc.stdout + proc.stderr
    pred = json.loads((tmp_path / 'work_dirs' / 'my' / 'predictions.json').read_text())['results']
    assert set(pred) == {'v4'} and {d['label'] for d in pred['v4']} == {'swim'}  # the unseen class only
    found = json.loads((tmp_path / 'work_dirs' / 'my' / 'detect' / 'detections.json').read_text())['results']
    assert set(found) == {'v4'} and found['v4']
    assert {d['label'] for d in found['v4']} <= {'swim', 'dive', 'a person jumping'}
    assert all(0.0 <= d['segment'][0] < d['segment'][1] <= 40.0 for d in found['v4'])
    assert list((tmp_path / 'work_dirs' / 'my' / 'detect').rglob('*.png'))  # --plot: the timeline
