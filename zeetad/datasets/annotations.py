"""Annotation files -> :class:`VideoRecord` lists, one registered loader per file format.

Loaders are registered in ``ANNOTATION_LOADERS`` under the name a dataset config gives as ``ann_format``
(a function ``(path, subsets) -> list[VideoRecord]``, ``subsets`` a set of lower-case subset names or None
for all, raising :class:`AnnotationError` naming the file and video); a new
format is one registered function. Shipped: ``'activitynet'``, the ActivityNet-style JSON of the official
v1.3 file and ActionFormer's THUMOS14 file: ``{"database": {video_id: {"subset", "duration", ["fps"],
"annotations": [{"label", "segment": [s, e]}]}}}`` with segments in seconds.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from zeetad.registry import ANNOTATION_LOADERS
from zeetad.utils.json_keys import loads_noting_repeats
from zeetad.utils.suggest import did_you_mean


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file and the video."""


@dataclass
class Instance:
    label: str
    start: float
    end: float


@dataclass
class VideoRecord:
    video_id: str
    subset: str
    duration: float
    fps: Optional[float]
    instances: list[Instance] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [inst.label for inst in self.instances]


def _parse_video(path: str, video_id: str, entry: dict) -> VideoRecord:
    where = f'{path}: video {video_id!r}'
    try:
        duration = float(entry['duration'])
        subset = str(entry['subset'])
    except (KeyError, TypeError, ValueError) as exc:
        raise AnnotationError(f'{where}: needs numeric "duration" and a "subset" ({exc!r})') from None
    if not math.isfinite(duration) or duration <= 0:
        raise AnnotationError(f'{where}: duration must be a positive number, got {entry["duration"]!r}')
    fps = entry.get('fps')
    if fps is not None:
        try:
            fps = float(fps)
        except (TypeError, ValueError):
            fps = math.nan
        if not math.isfinite(fps) or fps <= 0:  # a zero or negative fps would flip or collapse the time grid
            raise AnnotationError(f'{where}: fps must be a positive number, got {entry["fps"]!r}')
    instances = []
    for k, ann in enumerate(entry.get('annotations', [])):
        try:
            start, end = (float(x) for x in ann['segment'])
            label = str(ann['label'])
        except (KeyError, TypeError, ValueError) as exc:
            raise AnnotationError(f'{where}: annotation #{k} needs "label" and "segment": [start, end] ({exc!r})') from None
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise AnnotationError(f'{where}: annotation #{k} has an invalid segment {ann["segment"]!r}')
        # Kept as annotated even past the end of the video (THUMOS14 has 30 such instances, e.g. in
        # video_test_0000270): the official evaluation counts them, and no window can target them.
        instances.append(Instance(label, start, end))
    return VideoRecord(video_id, subset, duration, fps, instances)


def load_annotations(path: str | Path, subsets: Optional[Iterable[str]] = None,
                     ann_format: str = 'activitynet') -> list[VideoRecord]:
    """Read an annotation file with the loader registered as ``ann_format``, keeping the given subsets (all
    when None, case-insensitive), sorted by video id."""
    path = str(path)
    loader = ANNOTATION_LOADERS.get(ann_format) if isinstance(ann_format, str) else None
    if loader is None:
        names = sorted(ANNOTATION_LOADERS.module_dict)
        raise AnnotationError(f'{path}: ann_format must be one of {names}, got {ann_format!r}'
                              f'{did_you_mean(ann_format, names)}')
    if not Path(path).is_file():
        raise FileNotFoundError(f'annotation file not found: {path}')
    wanted = None if subsets is None else {s.lower() for s in subsets}
    return sorted(loader(path, wanted), key=lambda r: r.video_id)


@ANNOTATION_LOADERS.register_module(name='activitynet')
def load_activitynet_json(path: str, subsets: Optional[set] = None) -> list[VideoRecord]:
    """The videos of ``subsets`` (lower-case; all when None) of an ActivityNet-style JSON file (see above).
    Entries of other subsets are not parsed."""
    with open(path) as f:
        try:
            content, repeated = loads_noting_repeats(f.read())
        except json.JSONDecodeError as exc:
            raise AnnotationError(f'{path}: not valid JSON ({exc})') from None
    database = content.get('database') if isinstance(content, dict) else None
    if not isinstance(database, dict):
        raise AnnotationError(f'{path}: expected a top-level "database" mapping video ids to entries')
    if not database:  # else the first split class "does not occur in the annotations", naming the split file
        raise AnnotationError(f'{path}: "database" holds no videos')
    twice = sorted(repeated & set(database))
    if twice:  # json keeps the last entry of a repeated key: the first one would vanish without a word
        raise AnnotationError(f'{path}: video {twice[0]!r} has more than one entry in "database" '
                              f'({len(twice)} repeated video ids: {twice[:5]})')
    return [_parse_video(path, video_id, entry) for video_id, entry in sorted(database.items())
            if subsets is None or str(entry.get('subset', '')).lower() in subsets]


def class_names_of(records: Sequence[VideoRecord]) -> list[str]:
    """Sorted set of labels that occur in ``records``."""
    return sorted({inst.label for rec in records for inst in rec.instances})


def to_ground_truth(records: Sequence[VideoRecord], classes: Optional[Sequence[str]] = None) -> dict:
    """``{video_id: [{"label", "segment"}]}`` keeping only ``classes``; every video stays a key."""
    keep = None if classes is None else set(classes)
    return {
        rec.video_id: [{'label': inst.label, 'segment': [inst.start, inst.end]}
                       for inst in rec.instances if keep is None or inst.label in keep]
        for rec in records
    }
