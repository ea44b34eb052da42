"""A real mmengine run of the CLIP-stream-only config: loss terms, learning rate and validation mAP reach the
TensorBoard writer, and the test run draws its figures."""
import os

import numpy as np

import zeetad.visualization.vis_backend as vb
from testing_utils import ROOT
from zeetad.visualization import png_size, timeline_size_px

CONFIG = os.path.join(ROOT, 'configs', 'zeetad', 'zeetad_clip_only_synthetic_thumos14_demo.py')


class RecordingWriter:
    last = None

    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.images = log_dir, {}, []
        RecordingWriter.last = self

    def add_scalar(self, name, value, step):
        self.scalars.setdefault(name, []).append((step, value))

    def add_image(self, name, image, step, dataformats):
        self.images.append(name)

    def add_text(self, name, text):
        pass

    def close(self):
        pass


def small_run_config(data, work_dir):
    from zeetad.engine.runner_setup import load_config
    cfg = load_config(CONFIG, work_dir=str(work_dir))
    stream = dict(format='hdf5', path=data['clip_path'], dim=256, timebase=dict(sample_fps=2.0, offset_s=0.0))
    split = dict(mode='zero_shot', root=str(ROOT / 'data' / 'splits'), dataset='THUMOS14', ratio=75, index=0)
    for loader, videos in (('train_dataloader', 4), ('test_dataloader', 2)):
        dl = cfg[loader]
        dl.update(batch_size=4, num_workers=0, persistent_workers=False)
        dl.dataset.update(ann_file=data['ann_file'], loc_features=stream, clip_features=stream, split=split,
                          max_videos=videos, verbose=False)
    cfg.val_dataloader = cfg.test_dataloader
    cfg.model.classifier.text_encoder.pretrained = data['clip_ckpt']
    cfg.model.localizer.update(d_model=32, transformer=dict(cfg.model.localizer.transformer, nhead=4, enc_layers=1,
                                                            dec_layers=1, dim_ff=64, num_queries=10))
    cfg.model.localizer.actionness.hidden_dim = 32
    cfg.train_cfg.update(max_epochs=1, val_interval=1, target_iters=None)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1, save_last=False)
    return cfg


def test_training_logs_reach_tensorboard_and_test_draws_figures(synthetic_small, tmp_path, monkeypatch):
    from zeetad.engine.runner_setup import build_runner
    monkeypatch.setattr(vb, '_summary_writer_cls', lambda: RecordingWriter)
    runner = build_runner(small_run_config(synthetic_small, tmp_path), stage='train')
    runner.train()
    runner.test()
    writer = RecordingWriter.last
    assert writer.log_dir == os.path.join(runner.log_dir, 'vis_data')
    for key in ('loss', 'loss_cls', 'loss_seg', 'loss_iou', 'loss_actionness', 'lr'):
        assert key in writer.scalars and all(np.isfinite(v) for _, v in writer.scalars[key]), key
    steps = [s for s, _ in writer.scalars['loss']]
    assert steps == sorted(steps) and len(steps) >= 2
    val = writer.scalars['mAP@0.30']  # validation after epoch 1 is logged at that epoch
    assert len(val) >= 1 and 0.0 <= val[0][1] <= 1.0
    hook = next(h for h in runner.hooks if type(h).__name__ == 'TADVisualizationHook')
    files = hook.last_files
    assert {'pr_curves', 'class_ap'} <= set(files) and sum(k.startswith('timeline_') for k in files) == 2
    for name, path in files.items():
        assert path.startswith(os.path.join(runner.log_dir, 'tad_vis', 'test_0')) and png_size(path)[0] > 0
        if name.startswith('timeline_'):
            assert png_size(path)[1] >= timeline_size_px(1)[1]
    assert [n for n in writer.images if n.startswith('test/')] == [f'test/{k}' for k in files]
