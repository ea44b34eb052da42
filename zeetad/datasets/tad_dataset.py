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

from zeetad.registry import ANNOTATION_LOADERS, DATASETS, TRANSFORMS
from zeetad.utils.suggest import did_you_mean, is_number
from .annotations import AnnotationError, VideoRecord, load_annotations, to_ground_truth
from .feature_store import FeatureReadError, build_feature_store, store_problems
from .splits import ClassSplit, resolve_split, split_problems
from .streams import FeatureDataError, check_feature_length, load_window_streams
from .summary import format_summary, unassigned_labels
from .timebase import make_timebase
from .windows import enumerate_windows, window_instances


@DATASETS.register_module()
class TADDataset(BaseDataset):
    """Args:
        ann_file: the annotation file.
        ann_format: its loader in ``ANNOTATION_LOADERS`` (:mod:`zeetad.datasets.annotations`); default
            ``'activitynet'`` (ActivityNet-style JSON).
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
        length_tolerance: allowed relative difference between a video's feature rows and the count its
            annotated duration implies (see :func:`~zeetad.datasets.streams.check_feature_length`);
            ``None`` skips the check.
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
                 length_tolerance: Optional[float] = 0.1,
                 max_videos: Optional[int] = None,
                 ann_format: str = 'activitynet',
                 pipeline: Sequence = (dict(type='PackTADInputs'),),
                 verbose: bool = True,
                 **kwargs):
        problems = dataset_problems(dict(
            role=role, on_missing_features=on_missing_features, eval_videos=eval_videos, window_size=window_size,
            window_overlap=window_overlap, resize_length=resize_length, min_coverage=min_coverage, split=split,
            loc_features=loc_features, clip_features=clip_features, length_tolerance=length_tolerance,
            ann_format=ann_format))
        if problems:
            raise ValueError(f'{ann_file}: ' + '; '.join(problems))
        if (split or {}).get('eval_videos') is not None:  # the split applies to every dataset: it wins
            eval_videos = split['eval_videos']
        self.subsets = [subset] if isinstance(subset, str) else list(subset)
        self.role, self.split_cfg = role, split
        self.loc_cfg, self.clip_cfg = dict(loc_features), (dict(clip_features) if clip_features else None)
        self.window_size, self.window_overlap, self.resize_length = window_size, window_overlap, resize_length
        self.min_coverage = min_coverage
        self.drop_empty_windows = (role == 'train') if drop_empty_windows is None else drop_empty_windows
        self.eval_videos, self.blocked_videos = eval_videos, set(blocked_videos)
        self.on_missing_features, self.max_videos, self.verbose = on_missing_features, max_videos, verbose
        self.length_tolerance, self.ann_format = length_tolerance, ann_format
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file=ann_file, pipeline=pipeline, serialize_data=False, **kwargs)

    @staticmethod
    def config_problems(cfg: dict, key: str) -> list[str]:
        """Problems of a dataset config (nested ``split``, feature streams, time bases), for the config check."""
        return dataset_problems(cfg, key)

    # ------------------------------------------------------------------ building the item list
    def load_data_list(self) -> list[dict]:
        all_records = load_annotations(self.ann_file, ann_format=self.ann_format)
        all_classes = sorted({i.label for r in all_records for i in r.instances})
        split = resolve_split(self.split_cfg, all_classes)
        classes = split.train_classes if self.role == 'train' else split.test_classes
        records = [r for r in all_records if r.subset.lower() in {s.lower() for s in self.subsets}
                   and r.video_id not in self.blocked_videos]
        if not records:
            raise AnnotationError(f'{self.ann_file}: subset {self.subsets} has no videos '
                             f'(subsets present: {sorted({r.subset for r in all_records})})')
        dropped = self._warn_unassigned(records, split)
        num_subset_videos = len(records)
        records = self._select_videos(records, set(classes))
        records = self._attach_feature_lengths(records)
        self._metainfo.update(
            classes=tuple(classes),
            split=split.description,
            video_selection=self._protocol(len(records), num_subset_videos),
            ground_truth=to_ground_truth(records, classes),
            durations={r.video_id: r.duration for r in records},
            unassigned_labels=dropped)
        class_index = {name: k for k, name in enumerate(classes)}
        items = []
        for rec in records:
            items.extend(self._video_items(rec, class_index))
        if not items:
            raise AnnotationError(f'{self.ann_file}: no {self.role} windows left for subset {self.subsets} '
                             f'and {split.description}')
        if self.verbose:
            print_log(format_summary(self.role, self.subsets, split.description, records, classes, len(items),
                                     dropped, self._metainfo['video_selection']), logger='current')
        return items

    def _warn_unassigned(self, records: list[VideoRecord], split: ClassSplit) -> dict:
        """``{label: instances}`` of this subset's labels in neither class list (left out), logged per video.

        A renamed or misspelt label falls out of both lists and its instances would vanish from training
        and from the ground truth (which raises the test mAP); the summary counts them instead.
        """
        known = set(split.train_classes) | set(split.test_classes)
        dropped = unassigned_labels(records, known)
        if dropped:
            for rec in records:
                names = sorted({i.label for i in rec.instances if i.label in dropped})
                if names:
                    print_log(f'{self.ann_file}: video {rec.video_id!r}: instances of {names} are in no class '
                              f'list of {split.description}: left out', logger='current', level=10)
            named = ', '.join(f'{name!r}{did_you_mean(name, known)}' for name in dropped)
            print_log(f'{self.ann_file}: {sum(dropped.values())} {self.role} instances of {len(dropped)} labels '
                      f'in no class list of {split.description} are left out: {named} '
                      '(video-level details at DEBUG level)', logger='current', level=30)
        return dropped

    def _protocol(self, kept: int, total: int) -> str:
        """Which videos are scored, for the run summaries (published numbers differ on it: docs/data.md)."""
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
            raise AnnotationError(f'{self.ann_file}: no video of subset {self.subsets} has an instance of the '
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
            for key, st in (('loc_features', store), ('clip_features', clip_store)):
                if st is not None:
                    shape = st.shape(rec.video_id)
                    self._check_shape(shape, rec, st.path_of(rec.video_id), key)
                    if key == 'loc_features':
                        self._lengths[rec.video_id] = shape[0]
            kept.append(rec)
        if missing:
            print_log(f'{len(missing)} {self.role} videos skipped for missing features '
                      f'(e.g. {missing[:3]})', logger='current', level=30)
        if not kept:
            raise FeatureReadError(f'{self.ann_file}: every video of subset {self.subsets} lacks features')
        return kept

    def _check_shape(self, shape, rec: VideoRecord, path: str, key: str) -> None:
        dim = (self.loc_cfg if key == 'loc_features' else self.clip_cfg).get('dim')
        if len(shape) != 2:
            raise FeatureDataError(f'{path}: features of video {rec.video_id!r} must be (T, C), got shape {shape}')
        if dim is not None and shape[1] != dim:
            raise FeatureDataError(f'{path}: features of video {rec.video_id!r} have dim {shape[1]}, '
                             f'but {key}.dim is {dim}')
        if shape[0] < 1:
            raise FeatureDataError(f'{path}: video {rec.video_id!r} has no feature rows (shape {shape})')
        cfg = self.loc_cfg if key == 'loc_features' else self.clip_cfg
        try:
            tb = make_timebase(cfg['timebase'], rec.fps, f'{key}.timebase')
        except ValueError as exc:
            raise AnnotationError(f'{self.ann_file}: video {rec.video_id!r}: {exc}') from None
        check_feature_length(shape[0], rec.duration, tb, self.length_tolerance, rec.video_id, path, key)

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


def dataset_problems(cfg: dict, key: str = 'dataset') -> list[str]:
    """Problems of a :class:`TADDataset` config's options and nested dicts, each starting with its key path."""
    problems = []
    for name, allowed in (('role', ('train', 'test')), ('on_missing_features', ('error', 'skip')),
                          ('eval_videos', ('with_test_classes', 'all'))):
        if name in cfg and cfg[name] not in allowed:
            problems.append(f'{key}.{name}: must be one of {list(allowed)}, got {cfg[name]!r}')
    window, resize = cfg.get('window_size', 128), cfg.get('resize_length')
    if (window is None) == (resize is None):
        problems.append(f'{key}: set exactly one of window_size and resize_length (got {window!r} and {resize!r})')
    for name in ('window_size', 'resize_length'):
        value = cfg.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            problems.append(f'{key}.{name}: must be a positive integer or None, got {value!r}')
    ranges = {'window_overlap': (0.25, lambda v: 0 <= v < 1, 'in [0, 1)'),
              'min_coverage': (0.5, lambda v: 0 <= v <= 1, 'in [0, 1]'),
              'length_tolerance': (0.1, lambda v: v >= 0, '>= 0 or None')}
    for name, (default, ok, span) in ranges.items():
        value = cfg.get(name, default)
        if value is None and name == 'length_tolerance':
            continue
        if not is_number(value) or not ok(value):
            problems.append(f'{key}.{name}: must be a number {span}, got {value!r}')
    problems += split_problems(cfg.get('split'), f'{key}.split')
    fmt = cfg.get('ann_format', 'activitynet')
    if not isinstance(fmt, str) or ANNOTATION_LOADERS.get(fmt) is None:
        names = sorted(ANNOTATION_LOADERS.module_dict)
        problems.append(f'{key}.ann_format: must be one of {names}, got {fmt!r}{did_you_mean(fmt, names)}')
    for stream in ('loc_features', 'clip_features'):
        spec = cfg.get(stream)
        if spec is None and stream == 'clip_features':
            continue
        problems += store_problems(spec, f'{key}.{stream}')
        if isinstance(spec, dict) and spec.get('timebase') is None:
            problems.append(f'{key}.{stream}.timebase: required, e.g. dict(stride=4, window=16) for snippets or '
                            'dict(sample_fps=1.0) for frames')
    return problems
