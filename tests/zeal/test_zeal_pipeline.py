"""The ZEAL tools end to end on a toy dataset: synthetic or tiny-LVLM confidences, then tools/test.py."""
import json
import sys

import numpy as np
import pytest

from zeal_test_utils import (ROOT, one_torch_thread, tiny_lvlm_dir, write_tiny_dataset,  # noqa: F401  (fixtures)
                             zeal_tiny_clip_ckpt)

sys.path.insert(0, str(ROOT / 'tools'))  # test.py
sys.path.insert(0, str(ROOT / 'tools' / 'zeal'))
CONFIG = str(ROOT / 'configs' / 'zeal' / 'zeal_synthetic_thumos14.py')


def toy_options(tmp_path, ckpt):
    """--cfg-options pointing the synthetic ZEAL config at a toy dataset (test class Throw, video vid_d)."""
    paths = write_tiny_dataset(tmp_path, clip_dim=256, clip_fps=1.0)
    return [f'test_dataloader.dataset.ann_file={paths["ann_file"]}',
            f'test_dataloader.dataset.loc_features.path={paths["clip_features"]["path"]}',
            'test_dataloader.dataset.loc_features.timebase.sample_fps=1.0',
            'test_dataloader.num_workers=0', 'test_dataloader.batch_size=2',
            f'split.root={paths["split"]["root"]}', 'split.dataset=Toy',
            f'model.queries_file={tmp_path / "zeal" / "queries.json"}',
            f'model.confidences_file={tmp_path / "zeal" / "conf.h5"}',
            f'model.text_encoder.pretrained={ckpt}']


def run_test_tool(tmp_path, options, capsys):
    import test as test_tool
    out = tmp_path / 'preds.json'
    metrics = test_tool.main([CONFIG, 'none', '--work-dir', str(tmp_path / 'work'), '--out', str(out),
                              '--cfg-options', *options])
    preds = json.loads(out.read_text())['results']
    return metrics, preds


def check_results(metrics, preds):
    assert set(metrics) == {'mAP@0.30', 'mAP@0.40', 'mAP@0.50', 'mAP@0.60', 'mAP@0.70', 'average_mAP'}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert list(preds) == ['vid_d'] and preds['vid_d']
    segs = np.array([p['segment'] for p in preds['vid_d']])
    assert (segs[:, 0] >= 0).all() and (segs[:, 1] <= 30.0).all() and (segs[:, 0] < segs[:, 1]).all()
    assert {p['label'] for p in preds['vid_d']} == {'Throw'}


def test_synthetic_confidences_then_test_tool(tmp_path, zeal_tiny_clip_ckpt, capsys):
    import zeal_synthetic_confidences
    options = toy_options(tmp_path, zeal_tiny_clip_ckpt)
    conf = zeal_synthetic_confidences.main([CONFIG, '--noise', '0.3', '--cfg-options', *options])
    assert json.loads((tmp_path / 'zeal' / 'queries.json').read_text())['Throw']['description'] == \
        'a video of a person doing throw.'
    from zeetad.zeal.confidence_store import ConfidenceStore
    with ConfidenceStore(conf) as store:
        assert store.videos() == ['vid_d'] and store.load('vid_d').scores.shape == (30, 1, 2)
    metrics, preds = run_test_tool(tmp_path, options, capsys)
    check_results(metrics, preds)
    logs = ''.join(p.read_text() for p in (tmp_path / 'work').rglob('*.log'))
    assert 'Detection mAP (%)' in logs and '| mAP |' in logs  # the standard results table


def write_video(path, seconds, fps=2, size=(32, 32)):
    import av
    with av.open(str(path), 'w') as container:
        stream = container.add_stream('mpeg4', rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], 'yuv420p'
        for i in range(int(seconds * fps)):
            img = np.full(size + (3,), (7 * i) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_lvlm_tool_then_test_tool(tmp_path, zeal_tiny_clip_ckpt, tiny_lvlm_dir, capsys):
    pytest.importorskip('av')
    pytest.importorskip('zeetad.video.decode', reason='the shared PyAV decoding module is not in this checkout')
    import zeal_lvlm
    from zeetad.zeal.queries import save_queries, template_queries
    options = toy_options(tmp_path, zeal_tiny_clip_ckpt)
    save_queries(template_queries(['Throw']), str(tmp_path / 'zeal' / 'queries.json'))
    videos = tmp_path / 'videos'
    videos.mkdir()
    write_video(videos / 'vid_d.mp4', 30.0)
    code = zeal_lvlm.main([CONFIG, '--videos', str(videos), '--lvlm', tiny_lvlm_dir, '--batch-size', '16',
                           '--no-progress', '--cfg-options', *options])
    assert code == 0
    from zeetad.zeal.confidence_store import ConfidenceStore
    with ConfidenceStore(str(tmp_path / 'zeal' / 'conf.h5')) as store:
        conf = store.load('vid_d')
        assert conf.scores.shape == (30, 1, 2) and conf.classes == ('Throw',) and conf.sample_fps == 1.0
        assert store.attrs()['lvlm'] == tiny_lvlm_dir
    # A second run finds everything cached.
    assert zeal_lvlm.main([CONFIG, '--videos', str(videos), '--lvlm', tiny_lvlm_dir, '--no-progress',
                           '--cfg-options', *options]) == 0
    assert '0 videos scored' in capsys.readouterr().out
    metrics, preds = run_test_tool(tmp_path, options + ['model.intervals.min_class_mean=None'], capsys)
    check_results(metrics, preds)
