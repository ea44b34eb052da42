"""mmengine metric: sliding-window detections -> per-video Soft-NMS -> mAP."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..registry import METRICS
from .detection_map import THUMOS14_TIOUS, evaluate_detections, tiou_key
from .postprocess import merge_video_detections, official_predictions, to_official_results
from ..utils.atomic_io import atomic_write_json
from .report import format_table, save_result_files


def _np(x: Any, dtype) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


@METRICS.register_module()
class TADMetric(BaseMetric):
    """Temporal action detection mAP (ActivityNet rules) over whole videos.

    ``process`` stores each window's raw detections; ``compute_metrics`` merges
    the windows of each video (clip, min duration, top-k, Soft-NMS) and
    evaluates against ``dataset_meta['ground_truth']``.

    ``dataset_meta`` must hold ``classes`` (scored class names, indexed by the
    predicted labels), ``ground_truth`` (``{video: [{"label", "segment"}]}``,
    every evaluated video a key) and optionally ``durations`` (``{video:
    seconds}``) and ``blocked_videos``.

    Args:
        tiou_thresholds: tIoU thresholds.
        nms: Soft-NMS options, the fields of :class:`~zeetad.evaluation.soft_nms.SoftNMSParams`.
        pre_nms_topk: candidates per video kept before NMS.
        max_per_video: detections per video kept after NMS.
        min_duration: segments must be longer than this (seconds).
        out_file: if set, official-format predictions json written atomically.
        result_dir: if set, the result table as JSON and CSV (and PNG).
        plot_per_class: draw the per-class AP bar chart into ``result_dir``.
        print_per_class: include per-class rows in the printed table.
        nms_device: device on which Soft-NMS runs.
        video_context_power: ``p > 0`` rescales every candidate of a video by its class's share of that video's
            evidence to the power p (:func:`~zeetad.evaluation.postprocess.video_class_context`, docs/scoring.md);
            0 (default): off.
        collect_device, prefix, collect_dir: see ``BaseMetric``.
    """

    # '' (not None) keeps the keys exactly "mAP@0.30", ... without mmengine's
    # missing-prefix warning; pass prefix='tad' to get "tad/mAP@0.30".
    default_prefix: Optional[str] = ''

    def __init__(self,
                 tiou_thresholds: Sequence[float] = THUMOS14_TIOUS,
                 nms: Optional[dict] = None,
                 pre_nms_topk: Optional[int] = 2000,
                 max_per_video: Optional[int] = 200,
                 min_duration: float = 0.0,
                 out_file: Optional[str] = None,
                 result_dir: Optional[str] = None,
                 plot_per_class: bool = False,
                 print_per_class: bool = False,
                 nms_device: str = 'cpu',
                 video_context_power: float = 0.0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.tiou_thresholds = [float(t) for t in tiou_thresholds]
        self.nms = dict(method='gaussian', sigma=0.5, iou_threshold=0.1, min_score=0.001,
                        max_seg_num=200, multiclass=True, voting_thresh=0.0)
        self.nms.update(nms or {})
        self.pre_nms_topk = pre_nms_topk
        self.max_per_video = max_per_video
        self.min_duration = float(min_duration)
        self.out_file = out_file
        self.result_dir = result_dir
        self.plot_per_class = plot_per_class
        self.print_per_class = print_per_class
        self.nms_device = nms_device
        if video_context_power < 0:
            raise ValueError(f'test_evaluator.video_context_power must be >= 0, got {video_context_power!r}')
        self.video_context_power = float(video_context_power)
        self.last_result: Optional[dict] = None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store one entry per window: ``video_id``, ``segments (K, 2)`` in
        seconds, ``scores (K,)``, ``labels (K,)`` (numpy or torch) and, if the
        model gives it, ``label_names`` (label ``k`` means ``label_names[k]``;
        without it labels index ``dataset_meta['classes']``)."""
        for sample in data_samples:
            entry = {
                'video_id': str(sample['video_id']),
                'segments': _np(sample['segments'], np.float64).reshape(-1, 2),
                'scores': _np(sample['scores'], np.float64).reshape(-1),
                'labels': _np(sample['labels'], np.int64).reshape(-1),
            }
            if sample.get('label_names') is not None:
                entry['label_names'] = tuple(sample['label_names'])
            self.results.append(entry)

    def merge(self, results: list) -> dict:
        """Group windows by video and merge each video: ``{video: arrays}``."""
        durations = (self.dataset_meta or {}).get('durations') or {}
        by_video: dict = {}
        for r in results:
            by_video.setdefault(r['video_id'], []).append(r)
        # All videos' Soft-NMS in a few batched calls (per-video calls spend their time in op overhead).
        return merge_video_detections({vid: by_video[vid] for vid in sorted(by_video)}, self.nms,
                                      pre_nms_topk=self.pre_nms_topk, min_duration=self.min_duration,
                                      durations=durations, max_per_video=self.max_per_video,
                                      device=self.nms_device, video_context_power=self.video_context_power)

    def compute_metrics(self, results: list) -> dict:
        """Merge, write files, evaluate; returns ``{"mAP@0.30": ..., "average_mAP": ...}``."""
        meta = self.dataset_meta or {}
        for key in ('classes', 'ground_truth'):
            if key not in meta:
                raise KeyError(f'TADMetric needs dataset_meta[{key!r}]')
        classes = list(meta['classes'])
        preds = to_official_results(self.merge(results), classes)
        if self.out_file:
            atomic_write_json(self.out_file, official_predictions(preds), indent=None)
        result = evaluate_detections(meta['ground_truth'], preds, self.tiou_thresholds, classes=classes,
                                     blocked_videos=meta.get('blocked_videos'))
        self.last_result = result
        summary = (f'{result["num_videos"]} videos, {result["num_gt"]} instances, {len(classes)} classes, '
                   f'{result["num_predictions"]} detections ({result["num_ignored_predictions"]} ignored')
        if result['ignored_predictions']['unknown_label']:
            summary += (f'; {result["ignored_predictions"]["unknown_label"]} of them carry class names that are '
                        f'not among the dataset\'s classes, so nothing can score them')
        summary += ')'
        if meta.get('video_selection'):
            summary += f'; scored videos: {meta["video_selection"]}'
        print_log(summary + '\n' + format_table(result, per_class=self.print_per_class), logger='current')
        if self.result_dir:
            paths = save_result_files(result, self.result_dir, plot=self.plot_per_class)
            print_log(f'TAD results written to {", ".join(paths.values())}', logger='current')
        metrics = {f'mAP@{float(t):.2f}': result['mAP'][tiou_key(t)] for t in self.tiou_thresholds}
        metrics['average_mAP'] = result['average']
        return metrics

