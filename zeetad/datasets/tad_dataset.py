"""Temporal action detection dataset over precomputed feature streams, with the zero-shot protocol.

Each item is one *window* of a video: a slice of ``window_size`` localisation features (sliding with
overlap), or the whole video resized to ``resize_length`` features (ActivityNet style). The CLIP frame
stream is resampled onto the localisation grid by time, never by assuming equal lengths.
Segments inside an item are normalised to the window: ``u = (t - begin_s) / span_s``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from zeetad.registry import DATASETS, TRANSFORMS
from .annotations import VideoRecord, load_annotations, to_ground_truth
from .feature_store import build_feature_store
from .splits import resolve_split
from .streams import load_window_streams
from .summary import format_summary
from .timebase import make_timebase
from .windows import enumerate_windows, window_instances


@DATASETS.register_module()
class TADDataset(BaseDataset):
    """Args:
        ann_file: ActivityNet-style JSON.
        subset: subset name(s) to read, e.g. ``'Validation'`` (THUMOS14 train) or ``'Test'``.
        role: ``'train'`` keeps the split's train classes, ``'test'`` scores its test classes.
        split: see :func:`zeetad.datasets.splits.resolve_split` (``None``: closed set).
        loc_features / clip_features: ``dict(format='npy'|'hdf5', ..., dim=C, timebase=dict(...))``.
        window_size / window_overlap: sliding windows over the localisation grid (``None``: whole video).
        resize_length: resize every whole video to this many features instead of windowing.
        min_coverage: an instance is a target of a window if at least this fraction of it lies inside.
        eval_videos: at test time, ``'with_test_classes'`` (videos holding a test-class instance) or ``'all'``;
            ``split.eval_videos``, when set, overrides it (so ``--cfg-options split.eval_videos=all`` works).
        blocked_videos: video ids left out everywhere (an explicit, documented exclusion list).
        on_missing_features: ``'error'`` or ``'skip'`` (skipped videos are counted in a warning).
    """

    def __init__(self,
                 ann_file: str,
                 subset: str | Sequence[str],
                 loc_features: dict,
                 clip_features: Optional[dict] = None,
                 role: str = 'train',
                 split: Optional[dict] = None,
                 window_size: Optional[int] = 128,
                 window_overlap: float = 0.25,
                 resize_length: Optional[int] = None,
                 min_coverage: float = 0.5,
                 drop_empty_windows: Optional[bool] = None,
                 eval_videos: str = 'with_test_classes',
                 blocked_videos: Sequence[str] = (),
                 on_missing_features: str = 'error',
                 max_videos: Optional[int] = None,
                 pipeline: Sequence = (dict(type='PackTADInputs'),),
                 verbose: bool = True,
                 **kwargs):
        if role not in ('train', 'test'):
            raise ValueError(f'dataset.role must be "train" or "test", got {role!r}')
        if on_missing_features not in ('error', 'skip'):
            raise ValueError(f'dataset.on_missing_features must be "error" or "skip", got {on_missing_features!r}')
        key = 'dataset.eval_videos'
        if (split or {}).get('eval_videos') is not None:  # the split applies to every dataset: it wins
            key, eval_videos = 'split.eval_videos', split['eval_videos']
        if eval_videos not in ('with_test_classes', 'all'):
            raise ValueError(f'{key} must be "with_test_classes" or "all", got {eval_videos!r}')
        if (window_size is None) == (resize_length is None):
            raise ValueError('set exactly one of dataset.window_size and dataset.resize_length')
        if window_size is not None and not 0 <= window_overlap < 1:
            raise ValueError(f'dataset.window_overlap must be in [0, 1), got {window_overlap}')
        self.subsets = [subset] if isinstance(subset, str) else list(subset)
        self.role, self.split_cfg = role, split
        self.loc_cfg, self.clip_cfg = dict(loc_features), (dict(clip_features) if clip_features else None)
        self.window_size, self.window_overlap, self.resize_length = window_size, window_overlap, resize_length
        self.min_coverage = min_coverage
        self.drop_empty_windows = (role == 'train') if drop_empty_windows is None else drop_empty_windows
        self.eval_videos, self.blocked_videos = eval_videos, set(blocked_videos)
        self.on_missing_features, self.max_videos, self.verbose = on_missing_features, max_videos, verbose
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file=ann_file, pipeline=pipeline, serialize_data=False, **kwargs)

    # ------------------------------------------------------------------ building the item list
    def load_data_list(self) -> list[dict]:
        all_records = load_annotations(self.ann_file)
        all_classes = sorted({i.label for r in all_records for i in r.instances})
        split = resolve_split(self.split_cfg, all_classes)
        classes = split.train_classes if self.role == 'train' else split.test_classes
        records = [r for r in all_records if r.subset.lower() in {s.lower() for s in self.subsets}
                   and r.video_id not in self.blocked_videos]
        if not records:
            raise ValueError(f'{self.ann_file}: subset {self.subsets} has no videos '
                             f'(subsets present: {sorted({r.subset for r in all_records})})')
        num_subset_videos = len(records)
        records = self._select_videos(records, set(classes))
        records = self._attach_feature_lengths(records)
        self._metainfo.update(
            classes=tuple(classes),
            split=split.description,
            video_selection=self._protocol(len(records), num_subset_videos),
            ground_truth=to_ground_truth(records, classes),
            durations={r.video_id: r.duration for r in records})
        class_index = {name: k for k, name in enumerate(classes)}
        items = []
        for rec in records:
            items.extend(self._video_items(rec, class_index))
        if not items:
            raise ValueError(f'{self.ann_file}: no {self.role} windows left for subset {self.subsets} '
                             f'and {split.description}')
        if self.verbose:
            print_log(format_summary(self.role, self.subsets, split.description, records, classes, len(items),
                                     self._metainfo['video_selection']), logger='current')
        return items

    def _protocol(self, kept: int, total: int) -> str:
        """Which videos are scored, for the run summaries (published numbers differ on it: README)."""
        if self.role == 'train':
            return f'{kept} of {total} with a train-class instance'
        which = 'all' if self.eval_videos == 'all' else 'those holding a test-class instance'
        return f"eval_videos='{self.eval_videos}': {kept} of {total} {'/'.join(self.subsets)} videos ({which})"

    def _select_videos(self, records: list[VideoRecord], classes: set) -> list[VideoRecord]:
        keep_all = self.role == 'test' and self.eval_videos == 'all'
        selected = []
        for rec in records:
            kept = [i for i in rec.instances if i.label in classes]
            if kept or keep_all:
                selected.append(VideoRecord(rec.video_id, rec.subset, rec.duration, rec.fps, kept))
        if not selected:
            raise ValueError(f'{self.ann_file}: no video of subset {self.subsets} has an instance of the '
                             f'{self.role} classes {sorted(classes)}')
        return selected[:self.max_videos] if self.max_videos else selected

    def _attach_feature_lengths(self, records: list[VideoRecord]) -> list[VideoRecord]:
        store = build_feature_store(self.loc_cfg, 'loc_features')
        clip_store = build_feature_store(self.clip_cfg, 'clip_features') if self.clip_cfg else None
        kept, missing = [], []
        self._lengths = {}
        for rec in records:
            absent = [s.path_of(rec.video_id) for s in (store, clip_store) if s is not None and not s.has(rec.video_id)]
            if absent:
                if self.on_missing_features == 'error':
                    raise FileNotFoundError(f'features of video {rec.video_id!r} not found: {absent[0]} '
                                            '(set on_missing_features="skip" to leave such videos out)')
                missing.append(rec.video_id)
                continue
            shape = store.shape(rec.video_id)
            self._check_shape(shape, rec, store.path_of(rec.video_id), 'loc_features')
            self._lengths[rec.video_id] = shape[0]
            kept.append(rec)
        if missing:
            print_log(f'{len(missing)} {self.role} videos skipped for missing features '
                      f'(e.g. {missing[:3]})', logger='current', level=30)
        if not kept:
            raise ValueError(f'every video of subset {self.subsets} lacks features')
        return kept

    def _check_shape(self, shape, rec: VideoRecord, path: str, key: str) -> None:
        dim = (self.loc_cfg if key == 'loc_features' else self.clip_cfg).get('dim')
        if len(shape) != 2:
            raise ValueError(f'{path}: features of video {rec.video_id!r} must be (T, C), got shape {shape}')
        if dim is not None and shape[1] != dim:
            raise ValueError(f'{path}: features of video {rec.video_id!r} have dim {shape[1]}, '
                             f'but {key}.dim is {dim}')
        if shape[0] < 1:
            raise ValueError(f'{path}: video {rec.video_id!r} is shorter than one feature step')

    def _video_items(self, rec: VideoRecord, class_index: dict) -> list[dict]:
        tb = make_timebase(self.loc_cfg['timebase'], rec.fps, 'loc_features.timebase')
        length = self._lengths[rec.video_id]
        instances = np.array([[i.start, i.end, class_index[i.label]] for i in rec.instances],
                             dtype=np.float64).reshape(-1, 3)
        base = dict(video_id=rec.video_id, duration=rec.duration, fps=rec.fps, num_features=length,
                    step_s=tb.step_s, offset_s=tb.offset_s)
        if self.resize_length is not None:
            spans = [(0, length)]
        else:
            spans = enumerate_windows(length, self.window_size, self.window_overlap)
        items = []
        for start, stop in spans:
            begin_s = tb.offset_s + (start - 0.5) * tb.step_s
            span_s = (stop - start) * tb.step_s
            segs, labels = window_instances(instances, begin_s, span_s, self.min_coverage)
            if self.drop_empty_windows and len(labels) == 0:
                continue
            items.append(dict(base, window=(start, stop), begin_s=begin_s, span_s=span_s,
                              gt_segments=segs, gt_labels=labels))
        return items

    # ------------------------------------------------------------------ loading one item
    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        info['loc_feats'], info['clip_feats'] = self._load_streams(info)
        info['classes'] = self._metainfo['classes']  # not self.metainfo: that deep-copies all ground truth
        return self.pipeline(info)

    def _stores(self):
        if not hasattr(self, '_store_cache'):
            self._store_cache = (build_feature_store(self.loc_cfg, 'loc_features'),
                                 build_feature_store(self.clip_cfg, 'clip_features') if self.clip_cfg else None)
        return self._store_cache

    def _load_streams(self, info: dict):
        loc_store, clip_store = self._stores()
        return load_window_streams(info, loc_store, clip_store, self.clip_cfg, self.resize_length)
