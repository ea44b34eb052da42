"""ZEAL as an mmengine model: cached stage outputs in, the metric's per-video detections out.

Stages 1 (queries) and 4 (LVLM confidences) are run beforehand by their tools and cached;
``predict`` runs stages 2, 3 and 5 (class filtering, CLIP actionness, intervals) on each video
of the batch. Training-free: there is no ``loss`` and no checkpoint.
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.model import BaseModel

import zeetad.text  # noqa: F401  (registers CLIPTextEncoder)
from zeetad.datasets.feature_store import build_feature_store
from zeetad.datasets.timebase import TimeBase, make_timebase, resample_stream
from zeetad.registry import MODELS
from .clip_scores import class_similarity, clip_actionness, select_classes
from .confidence_store import ConfidenceStore
from .interval_nms import localize_curves
from .intervals import IntervalConfig
from .queries import load_queries

logger = logging.getLogger(__name__)

FILTER_MODES = ('top_k', 'labels', 'all')


class MissingConfidencesError(KeyError):
    """A video or kept class without cached LVLM confidences."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0])
DEFAULT_CLASS_FILTER = dict(mode='top_k', top_k=3, num_key_frames=8)


@MODELS.register_module()
class ZEAL(BaseModel):
    """Training-free zero-shot localisation from LVLM yes/no confidences (Aklilu et al., 2024).

    Args:
        queries_file: the stage-1 JSON ``{class: {start, end, description}}``.
        confidences_file: the stage-4 HDF5 (see :mod:`zeetad.zeal.confidence_store`).
        text_encoder: config of the CLIP text encoder that embeds the descriptions (the same CLIP model as
            the frame features).
        class_filter: ``mode`` ``'top_k'`` (keep the ``top_k`` classes whose description best matches the
            mean of ``num_key_frames`` key frames; THUMOS14 3, ActivityNet 5), ``'labels'`` (the video's
            ground-truth classes: ZEAL's oracle variant, labelled as such) or ``'all'``.
        intervals: :class:`IntervalConfig` keywords.
        frame_features: ``None`` to take CLIP frame features from the batch (``feature_key``), or a feature
            stream config (``dict(format='hdf5', path=..., timebase=dict(sample_fps=1.0))``) read per video.
        feature_key: batch input holding the CLIP features: ``'loc'``, ``'clip'`` or ``'auto'`` (``'clip'``
            when present, else ``'loc'``).
        on_missing: a video (or kept class) absent from the confidence file: ``'error'`` or ``'skip'``
            (the video gets no detections; counted in a warning).
    """

    def __init__(self, queries_file: str, confidences_file: str, text_encoder: dict,
                 class_filter: Optional[dict] = None, intervals: Optional[dict] = None,
                 frame_features: Optional[dict] = None, feature_key: str = 'auto', on_missing: str = 'error',
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        # Scoped name: BaseModel builds it with mmengine's root registry, also outside a runner.
        data_preprocessor = data_preprocessor or dict(type='zeetad.TADDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.class_filter = {**DEFAULT_CLASS_FILTER, **(class_filter or {})}
        unknown = set(self.class_filter) - set(DEFAULT_CLASS_FILTER)
        if unknown:
            raise KeyError(f'model.class_filter: unknown keys {sorted(unknown)}')
        if self.class_filter['mode'] not in FILTER_MODES:
            raise ValueError(f'model.class_filter.mode must be one of {FILTER_MODES}, '
                             f'got {self.class_filter["mode"]!r}')
        if feature_key not in ('auto', 'loc', 'clip'):
            raise ValueError(f'model.feature_key must be "auto", "loc" or "clip", got {feature_key!r}')
        if on_missing not in ('error', 'skip'):
            raise ValueError(f'model.on_missing must be "error" or "skip", got {on_missing!r}')
        self.interval_cfg = IntervalConfig.from_dict(intervals)
        self.queries_file, self.confidences_file = queries_file, confidences_file
        self.frame_features_cfg, self.feature_key, self.on_missing = frame_features, feature_key, on_missing
        self.text_encoder = MODELS.build(text_encoder)
        self._store: Optional[ConfidenceStore] = None
        self._feature_store = None
        self._text_cache: dict = {}
        self.missing: list = []

    # ------------------------------------------------------------------ cached inputs
    def confidence_store(self) -> ConfidenceStore:
        if self._store is None:
            self._store = ConfidenceStore(self.confidences_file)
        return self._store

    def description_embeddings(self, classes: Sequence[str]) -> torch.Tensor:
        """``(K, D)`` L2-normalised CLIP embeddings of the classes' descriptions (cached per class list)."""
        key = tuple(classes)
        if key not in self._text_cache:
            queries = load_queries(self.queries_file, key)
            with torch.no_grad():
                emb = self.text_encoder.encode_prompts([queries[c].description for c in key])
            self._text_cache[key] = emb.detach().float().cpu()
        return self._text_cache[key]

    def frame_features(self, sample: dict, batch_feats: Optional[torch.Tensor], times: np.ndarray) -> torch.Tensor:
        """CLIP frame features of one video resampled (linearly, by time) at ``times (T,)`` s -> ``(T, D)``.

        ``batch_feats (n, D)`` are the item's unpadded features covering ``[begin_s, begin_s + span_s]``.
        """
        if self.frame_features_cfg is not None:
            if self._feature_store is None:
                self._feature_store = build_feature_store(self.frame_features_cfg, 'model.frame_features')
            feats = np.asarray(self._feature_store.load(sample['video_id']), np.float32)
            source = make_timebase(self.frame_features_cfg['timebase'], sample.get('fps'), 'model.frame_features')
        else:
            feats = batch_feats.detach().float().cpu().numpy()
            step = float(sample['span_s']) / len(feats)
            source = TimeBase(step, float(sample['begin_s']) + 0.5 * step)
        return torch.from_numpy(resample_stream(feats, source, np.asarray(times, np.float64)))

    def kept_classes(self, feats: torch.Tensor, classes: Sequence[str], sample: Optional[dict] = None) -> list[int]:
        """Stage 2: indices into ``classes`` of the classes to localise in this video."""
        mode = self.class_filter['mode']
        if mode == 'all':
            return list(range(len(classes)))
        if mode == 'labels':
            if sample is None or 'gt_labels' not in sample:
                raise KeyError('class_filter.mode="labels" needs the ground-truth labels in the data sample')
            return select_classes(None, 0, labels=torch.as_tensor(sample['gt_labels']).tolist())
        sim = class_similarity(feats, self.description_embeddings(classes), self.class_filter['num_key_frames'])
        return select_classes(sim, self.class_filter['top_k'])

    # ------------------------------------------------------------------ mmengine interface
    def forward(self, inputs: dict, data_samples: Optional[list] = None, mode: str = 'predict'):
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            raise NotImplementedError('ZEAL is training-free: run tools/test.py CONFIG none')
        raise ValueError(f'ZEAL supports mode="predict" only, got {mode!r}')

    def batch_feature_key(self, inputs: dict) -> Optional[str]:
        """Which batch input holds the CLIP frame features (``None``: they are read from ``frame_features``)."""
        if self.frame_features_cfg is not None:
            return None
        if self.feature_key == 'auto':
            return 'clip' if inputs.get('clip') is not None else 'loc'
        if inputs.get(self.feature_key) is None:
            raise KeyError(f'model.feature_key={self.feature_key!r} but the batch has no such features')
        return self.feature_key

    def predict(self, inputs: dict, data_samples: list) -> list:
        """-> one dict per video: ``video_id``, ``segments (K, 2)`` seconds, ``scores (K,)``, ``labels (K,)``."""
        key = self.batch_feature_key(inputs)
        mask = inputs.get('mask')
        curves, actionness, owners, per_video = [], [], [], []
        for i, sample in enumerate(data_samples):
            window = sample.get('window')
            if window is not None and int(window[0]) != 0:
                raise ValueError(f'video {sample["video_id"]}: ZEAL needs one item per whole video; set the test '
                                 "dataset's window_size above the longest video's feature count")
            batch_feats = None
            if key is not None:
                n = int((~mask[i]).sum()) if mask is not None else inputs[key].shape[1]
                batch_feats = inputs[key][i, :n]
            per_video.append(self._video_curves(sample, batch_feats, curves, actionness, owners, i))
        skip_low = self.class_filter['mode'] != 'labels'
        results = localize_curves(curves, actionness, self.interval_cfg, skip_low)
        out = []
        for i, sample in enumerate(data_samples):
            segs, scores, labels = [np.zeros((0, 2))], [np.zeros(0)], [np.zeros(0, np.int64)]
            fps, offset = per_video[i]
            for (s, c), (owner, label) in zip(results, owners):
                if owner == i:
                    segs.append(offset + s / fps)
                    scores.append(c)
                    labels.append(np.full(len(c), label, np.int64))
            segs = np.clip(np.concatenate(segs), 0.0, float(sample['duration']))
            scores, labels = np.concatenate(scores), np.concatenate(labels)
            order = np.argsort(-scores, kind='stable')
            out.append(dict(video_id=sample['video_id'], segments=segs[order], scores=scores[order],
                            labels=labels[order]))
        return out

    def _video_curves(self, sample: dict, batch_feats, curves: list, actionness: list, owners: list,
                      owner: int) -> tuple[float, float]:
        """Append this video's kept-class curves; returns its confidence grid ``(fps, offset_s)``."""
        vid, classes = sample['video_id'], list(sample['classes'])
        store = self.confidence_store()
        if not store.has(vid):
            self._missing(f'video {vid!r} has no LVLM confidences in {self.confidences_file}')
            return 1.0, 0.0
        conf = store.load(vid)
        feats = self.frame_features(sample, batch_feats, conf.frame_times())
        kept = self.kept_classes(feats, classes, sample)
        text = self.description_embeddings(classes)
        column = {name: j for j, name in enumerate(conf.classes)}
        absent = [classes[k] for k in kept if classes[k] not in column]
        if absent:
            self._missing(f'video {vid!r}: kept class(es) {absent} have no LVLM confidences (cached: '
                          f'{list(conf.classes)}); rerun tools/zeal/zeal_lvlm.py with this config')
            kept = [k for k in kept if classes[k] in column]
        if kept:
            act = clip_actionness(feats, text[kept]).numpy()
            for row, k in enumerate(kept):
                curves.append(conf.scores[:, column[classes[k]], :])
                actionness.append(act[row])
                owners.append((owner, k))
        return conf.sample_fps, conf.offset_s

    def _missing(self, message: str) -> None:
        if self.on_missing == 'error':
            raise MissingConfidencesError(message + ' (set model.on_missing="skip" to evaluate without it)')
        self.missing.append(message)
        logger.warning(message)
