"""ZEAL (training-free) on users' videos: CLIP class filter -> LVLM start/end confidences -> intervals.

Every stage is ZEAL's own code (:mod:`zeetad.zeal`); this module only feeds it whole videos. Queries come
from a file or, without one, from fixed templates (no LLM needed). LVLM confidences are cached in an HDF5
file whose name hashes everything that changes them, so a second run asks the LVLM nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Optional, Sequence

import numpy as np
import torch

from zeetad.datasets.feature_store import FeatureStore
from .errors import DetectError
from .features import source_key
from .inference import VideoMeta


def _digest(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


class ZEALDetector:
    """ZEAL over a list of class names, with its queries and confidence cache under ``cache_dir``.

    Args:
        cfg: a ZEAL config (``model.type='ZEAL'``: text encoder, class filter, interval settings).
        class_names: the names to localise.
        cache_dir: where the queries file and the confidence cache go.
        lvlm: local folder of an image-text-to-text model (never downloaded).
        queries_file: stage-1 queries (``tools/zeal/zeal_queries.py``); default: template queries.
        lvlm_fps: frames per second asked about (ZEAL: 1).
    """

    def __init__(self, cfg, class_names: Sequence[str], cache_dir: str, lvlm: Optional[str],
                 queries_file: Optional[str] = None, device: str = 'cpu', lvlm_batch_size: int = 8,
                 lvlm_fps: float = 1.0, progress: bool = True):
        import zeetad.zeal  # noqa: F401  (registers ZEAL)
        from zeetad.registry import MODELS
        from zeetad.zeal.queries import load_queries, save_queries, template_queries
        if cfg.model.get('type') != 'ZEAL':
            raise DetectError(f'--zeal needs a ZEAL config (model.type="ZEAL"), got model.type='
                              f'{cfg.model.get("type")!r}; e.g. configs/zeal/zeal_thumos14.py')
        if not lvlm:
            raise DetectError('--zeal needs --lvlm PATH: a local folder of an image-text-to-text model '
                              '(e.g. LLaVA-OneVision-7B saved with its processor); nothing is downloaded')
        self.names, self.lvlm, self.device = list(class_names), str(lvlm), device
        self.lvlm_fps, self.lvlm_batch_size, self.progress = float(lvlm_fps), int(lvlm_batch_size), progress
        queries = load_queries(queries_file, self.names) if queries_file else template_queries(self.names)
        self.queries = {n: queries[n] for n in self.names}
        content = {n: q.to_dict() for n, q in self.queries.items()}
        self.queries_file = os.path.join(cache_dir, f'zeal_queries_{_digest(content)}.json')
        if not os.path.isfile(self.queries_file):
            save_queries(self.queries, self.queries_file)
        key = dict(queries=content, lvlm=os.path.abspath(self.lvlm), fps=self.lvlm_fps,
                   class_filter=dict(cfg.model.get('class_filter') or {}), classes=self.names)
        self.confidences_file = os.path.join(cache_dir, f'zeal_confidences_{_digest(key)}.h5')
        self.model = MODELS.build(dict(cfg.model, queries_file=self.queries_file,
                                       confidences_file=self.confidences_file, frame_features=None,
                                       feature_key='loc', on_missing='error')).eval()

    def _sample(self, video: VideoMeta, num_feats: int, feature_fps: float) -> dict:
        step = 1.0 / feature_fps  # frame i at i / fps is the centre of step i
        return dict(video_id=video.video_id, duration=float(video.duration), fps=float(video.fps),
                    begin_s=-0.5 * step, span_s=num_feats * step, window=(0, num_feats), classes=tuple(self.names))

    @torch.no_grad()
    def run(self, videos: Sequence[VideoMeta], clip_store: FeatureStore, feature_fps: float):
        """-> ``(detections {video: arrays}, curves {video: {name: (t, v)}}, failed {video: reason})``."""
        from zeetad.video.decode import sample_count
        from zeetad.zeal.confidence_store import ConfidenceStore
        from zeetad.zeal.lvlm_stage import LVLMJob, run_lvlm_stage
        jobs, inputs, failed = [], {}, {}
        ids = {}  # LVLM confidences are cached by source_key: another file with the same stem is not reused
        for video in videos:
            feats = torch.as_tensor(np.asarray(clip_store.load(video.video_id), np.float32))
            key = source_key(video.video_id, video.path)
            ids[key] = video.video_id
            video = VideoMeta(key, video.path, video.duration, video.fps)
            sample = self._sample(video, len(feats), feature_fps)
            times = np.arange(sample_count(video.duration, self.lvlm_fps)) / self.lvlm_fps
            kept = self.model.kept_classes(self.model.frame_features(sample, feats, times), self.names, sample)
            inputs[video.video_id] = (feats, sample)
            jobs.append(LVLMJob(video.video_id, video.path, tuple(self.names[k] for k in kept)))
        with ConfidenceStore(self.confidences_file, mode='a') as store:
            todo = [j for j in jobs if not store.has(j.video_id)]
            if todo:
                from zeetad.zeal.lvlm_scorer import YesNoScorer
                scorer = YesNoScorer.from_pretrained(self.lvlm, device=self.device, batch_size=self.lvlm_batch_size)
                report = run_lvlm_stage(todo, scorer, self.queries, store, fps=self.lvlm_fps, progress=self.progress,
                                        run_attrs=dict(lvlm=os.path.abspath(self.lvlm), prompt=scorer.prompt,
                                                       fps=self.lvlm_fps))
                failed.update(report.failed)
        detections, curves = {}, {}
        for job in jobs:
            if job.video_id in failed:
                continue
            feats, sample = inputs[job.video_id]
            mask = torch.zeros(1, len(feats), dtype=torch.bool)
            out = self.model.predict(dict(loc=feats[None], clip=None, mask=mask), [sample])[0]
            vid = ids[job.video_id]
            detections[vid] = dict(segments=out['segments'], scores=out['scores'], labels=out['labels'])
            curves[vid] = self.confidence_curves(job.video_id)
        failed = {ids.get(k, k): reason for k, reason in failed.items()}
        if jobs:  # release the model's read-only handle so a later run can append to the cache
            self.model.confidence_store().close()
        return detections, curves, failed

    def confidence_curves(self, video_id: str) -> dict:
        """``{"<class> (start)": (t, p), "<class> (end)": (t, p)}`` of the LVLM's cached yes-probabilities."""
        conf = self.model.confidence_store().load(video_id)
        times = conf.frame_times()
        out = {}
        for j, name in enumerate(conf.classes):
            out[f'{name} (start)'] = (times, conf.scores[:, j, 0])
            out[f'{name} (end)'] = (times, conf.scores[:, j, 1])
        return out
