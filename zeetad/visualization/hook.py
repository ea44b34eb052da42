"""A hook that turns a test (or validation) run into pictures: PR curves, per-class AP, timelines.

The windows' raw detections are collected as the loop runs, merged per video with the run's own
:class:`~zeetad.evaluation.TADMetric` settings (its public ``merge``), and drawn once the epoch is done.
PNGs go to ``<log_dir>/tad_vis/<mode>_<step>/`` and to the visualizer's backends (TensorBoard images).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook

from zeetad.registry import HOOKS


def _find_tad_metric(evaluator):
    for metric in getattr(evaluator, 'metrics', []):
        if hasattr(metric, 'merge') and hasattr(metric, 'tiou_thresholds'):
            return metric
    return None


def _as_numpy(x, dtype):
    if hasattr(x, 'detach'):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype)


@HOOKS.register_module()
class TADVisualizationHook(Hook):
    """Draw the run's precision-recall curves per tIoU, per-class AP bars and a few video timelines.

    Args:
        modes: loops to draw after, ``'test'`` and/or ``'val'``.
        num_timelines: videos drawn as timelines (those with the most ground-truth instances).
        score_thr: timeline predictions below are not drawn.
        out_dir: folder for the PNGs (default ``<runner.log_dir>/tad_vis``).
        to_backends: also send the pictures to the visualizer (``add_image``).
    """

    priority = 'LOW'

    def __init__(self, modes: Sequence[str] = ('test',), num_timelines: int = 3, score_thr: float = 0.05,
                 out_dir: Optional[str] = None, to_backends: bool = True):
        unknown = set(modes) - {'test', 'val'}
        if unknown:
            raise ValueError(f'TADVisualizationHook.modes: unknown {sorted(unknown)}; use "test" and/or "val"')
        self.modes, self.num_timelines, self.score_thr = tuple(modes), int(num_timelines), float(score_thr)
        self.out_dir, self.to_backends = out_dir, to_backends
        self._windows: list = []
        self.last_files: dict = {}

    # ------------------------------------------------------------------ collecting
    def _collect(self, outputs) -> None:
        for o in outputs or ():
            self._windows.append(dict(video_id=str(o['video_id']), segments=_as_numpy(o['segments'], np.float64),
                                      scores=_as_numpy(o['scores'], np.float64),
                                      labels=_as_numpy(o['labels'], np.int64)))

    def before_test_epoch(self, runner) -> None:
        self._windows = []

    def before_val_epoch(self, runner) -> None:
        self._windows = []

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if 'test' in self.modes:
            self._collect(outputs)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if 'val' in self.modes:
            self._collect(outputs)

    def after_test_epoch(self, runner, metrics=None) -> None:
        if 'test' in self.modes:
            self._draw(runner, runner.test_loop.evaluator, 'test', 0)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if 'val' in self.modes:
            self._draw(runner, runner.val_loop.evaluator, 'val', runner.epoch)

    # ------------------------------------------------------------------ drawing
    def _draw(self, runner, evaluator, mode: str, step: int) -> None:
        windows, self._windows = self._windows, []
        if get_world_size() > 1:
            windows = [w for part in all_gather_object(windows) for w in part]
        metric = _find_tad_metric(evaluator)
        if not is_main_process() or metric is None or not windows:
            return
        files = draw_run_figures(metric, windows, os.path.join(self.out_dir or os.path.join(runner.log_dir,
                                                                                               'tad_vis'),
                                                               f'{mode}_{step}'),
                                 self.num_timelines, self.score_thr)
        self.last_files = files
        if self.to_backends:
            from matplotlib.image import imread
            for name, path in files.items():
                rgb = imread(path)[..., :3]
                runner.visualizer.add_image(f'{mode}/{name}', (rgb * 255).round().astype(np.uint8), step=step)


def draw_run_figures(metric, windows: list, out_dir: str, num_timelines: int = 3, score_thr: float = 0.05) -> dict:
    """Merge ``windows`` with ``metric``'s settings and draw PR curves, AP bars and timelines into ``out_dir``.

    Returns:
        ``{name: png path}``.
    """
    from zeetad.evaluation import evaluate_detections, to_official_results
    from .metric_plots import plot_class_ap, plot_pr_curves
    from .precision_recall import precision_recall
    from .timeline import plot_timeline

    meta = metric.dataset_meta or {}
    classes, gt = list(meta['classes']), meta['ground_truth']
    preds = to_official_results(metric.merge(windows), classes)
    files = {'pr_curves': plot_pr_curves(precision_recall(gt, preds, metric.tiou_thresholds, classes),
                                         os.path.join(out_dir, 'pr_curves.png'))}
    result = getattr(metric, 'last_result', None)
    if result is None:
        result = evaluate_detections(gt, preds, metric.tiou_thresholds, classes=classes)
    files['class_ap'] = plot_class_ap(result, os.path.join(out_dir, 'class_ap.png'))
    durations = meta.get('durations') or {}
    busiest = sorted(gt, key=lambda v: (-len(gt[v]), v))[:num_timelines]
    for vid in busiest:
        files[f'timeline_{vid}'] = plot_timeline(os.path.join(out_dir, 'timelines', f'{vid}.png'),
                                                 preds.get(vid, []), gt[vid], duration=durations.get(vid),
                                                 video_id=vid, score_thr=score_thr)
    return files
