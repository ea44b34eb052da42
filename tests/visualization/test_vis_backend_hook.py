"""TensorBoard backend that degrades to local files, and the hook that draws a test run's figures."""
import json
import types

import numpy as np
import pytest
from mmengine.config import Config

import zeetad.visualization.vis_backend as vb
from zeetad.evaluation import TADMetric
from zeetad.registry import VISBACKENDS
from zeetad.visualization import TADVisualizationHook, class_ap_size_px, png_size, timeline_size_px


class FakeWriter:
    """Stands in for ``torch.utils.tensorboard.SummaryWriter`` (records calls)."""
    instances: list = []

    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.images, self.texts, self.closed = log_dir, [], [], [], False
        FakeWriter.instances.append(self)

    def add_scalar(self, name, value, step):
        self.scalars.append((name, value, step))

    def add_image(self, name, image, step, dataformats):
        self.images.append((name, image.shape, step, dataformats))

    def add_text(self, name, text):
        self.texts.append(name)

    def close(self):
        self.closed = True


def log_some(backend):
    backend.add_scalars({'loss': 0.5, 'loss_cls': np.float32(0.25), 'lr': 2e-4, 'mode': 'train'}, step=3)
    backend.add_scalar('mAP@0.50', 0.4, step=5)
    backend.add_image('timeline', np.zeros((8, 10, 3), np.uint8), step=5)
    backend.add_config(Config(dict(a=1)))


def read_scalars(folder):
    return [json.loads(line) for line in (folder / 'scalars.json').read_text().splitlines()]


def test_tensorboard_backend_writes_both(tmp_path, monkeypatch):
    monkeypatch.setattr(vb, '_summary_writer_cls', lambda: FakeWriter)
    backend = VISBACKENDS.build(dict(type='LocalTensorboardVisBackend', save_dir=str(tmp_path)))
    log_some(backend)
    writer = FakeWriter.instances[-1]
    assert backend.tensorboard_enabled and backend.experiment is writer and writer.log_dir == str(tmp_path)
    assert writer.scalars == [('loss', 0.5, 3), ('loss_cls', 0.25, 3), ('lr', 2e-4, 3), ('mAP@0.50', 0.4, 5)]
    assert writer.images == [('timeline', (8, 10, 3), 5, 'HWC')] and writer.texts == ['config']
    assert read_scalars(tmp_path)[0] == {'loss': 0.5, 'loss_cls': 0.25, 'lr': 2e-4, 'mode': 'train', 'step': 3}
    assert (tmp_path / 'vis_image' / 'timeline_5.png').is_file() and (tmp_path / 'config.py').is_file()
    backend.close()
    assert writer.closed


def test_missing_tensorboard_falls_back_to_local_files(tmp_path, monkeypatch):
    monkeypatch.setattr(vb, '_summary_writer_cls', lambda: None)
    backend = vb.LocalTensorboardVisBackend(str(tmp_path))
    with pytest.warns(UserWarning, match='tensorboard is not installed'):
        backend.add_scalars({'loss': 1.0}, step=1)
    log_some(backend)
    assert not backend.tensorboard_enabled and backend.experiment is backend
    assert [r['step'] for r in read_scalars(tmp_path)] == [1, 3, 5]
    backend.close()


def test_switched_off_never_imports_tensorboard(tmp_path, monkeypatch):
    def boom():
        raise AssertionError('tensorboard looked up although switched off')
    monkeypatch.setattr(vb, '_summary_writer_cls', boom)
    backend = vb.LocalTensorboardVisBackend(str(tmp_path), tensorboard=False)
    log_some(backend)
    assert len(read_scalars(tmp_path)) == 2


def test_real_tensorboard_event_files(tmp_path):
    pytest.importorskip('tensorboard')
    backend = vb.LocalTensorboardVisBackend(str(tmp_path))
    log_some(backend)
    backend.close()
    assert list(tmp_path.glob('events.out.tfevents.*'))


def tad_metric():
    metric = TADMetric(tiou_thresholds=(0.3, 0.5))
    metric.dataset_meta = dict(
        classes=('Jump', 'Run'), durations={'a': 60.0, 'b': 40.0, 'c': 30.0},
        ground_truth={'a': [dict(label='Jump', segment=[5, 10]), dict(label='Run', segment=[20, 30])],
                      'b': [dict(label='Run', segment=[1, 4])], 'c': [dict(label='Jump', segment=[0, 2]),
                                                                   dict(label='Jump', segment=[9, 12]),
                                                                   dict(label='Run', segment=[20, 25])]})
    return metric


def window(vid, segs, labels, scores):
    return dict(video_id=vid, segments=np.asarray(segs, float), labels=np.asarray(labels), scores=np.asarray(scores))


def test_hook_draws_a_test_run(tmp_path):
    metric = tad_metric()
    images = []
    runner = types.SimpleNamespace(
        log_dir=str(tmp_path), epoch=0, test_loop=types.SimpleNamespace(evaluator=types.SimpleNamespace(
            metrics=[metric])),
        visualizer=types.SimpleNamespace(add_image=lambda name, image, step: images.append((name, image.shape))))
    hook = TADVisualizationHook(num_timelines=2)
    hook.before_test_epoch(runner)
    hook.after_test_iter(runner, 0, outputs=[window('a', [[5, 11], [19, 31]], [0, 1], [0.9, 0.8]),
                                             window('b', [[1, 4]], [0], [0.4])])
    hook.after_test_iter(runner, 1, outputs=[window('c', [[0, 2], [9, 12], [30, 35]], [0, 0, 1], [0.7, 0.6, 0.3]),
                                             window('a', [[40, 50]], [0], [0.2])])
    metric.last_result = None
    hook.after_test_epoch(runner, metrics={})
    files = hook.last_files
    assert set(files) == {'pr_curves', 'class_ap', 'timeline_c', 'timeline_a'}
    assert png_size(files['class_ap']) == class_ap_size_px(2)
    assert png_size(files['timeline_c']) == timeline_size_px(2) == png_size(files['timeline_a'])
    assert files['pr_curves'].startswith(str(tmp_path / 'tad_vis' / 'test_0'))
    assert [name for name, _ in images] == [f'test/{k}' for k in files]
    assert all(shape == png_size(files[n.split('/')[1]])[::-1] + (3,) for n, shape in images)


def test_hook_rejects_unknown_modes():
    with pytest.raises(ValueError, match='unknown'):
        TADVisualizationHook(modes=('train',))
