"""ActivityNet-1.3-shaped videos for the synthetic data: real ids, durations, fps and subsets, synthetic labels.

The official ActivityNet label file is not available here; ``data/activitynet/`` holds the real class names
(``action_name.csv``) and the real video list (``video_info_new.csv``: id, duration, fps, subset). Labels and
segments are therefore drawn here, shaped like ActivityNet's: one class per video, 1-3 non-overlapping
instances (1.5 on average) covering 15-85 % of the video together.
"""
from __future__ import annotations

import csv
from typing import Optional

import numpy as np

from .annotations import Instance, VideoRecord

# Subsets with labels in ActivityNet-1.3 (``testing`` has none) and the names the annotation file uses.
LABELLED_SUBSETS = ('training', 'validation')
INSTANCE_COUNT_PROBS = (0.65, 0.2, 0.15)  # 1, 2 or 3 instances: 1.5 per video on average, as in ActivityNet


def _read_csv(path: str, columns: tuple) -> list[dict]:
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f'{path}: missing column(s) {missing}; found {reader.fieldnames}')
        return list(reader)


def read_activitynet_classes(action_csv: str) -> list[str]:
    """The class names of ``action_name.csv`` (column ``action``), in file order, checked unique."""
    names = [row['action'].strip() for row in _read_csv(action_csv, ('action',)) if row['action'].strip()]
    if not names:
        raise ValueError(f'{action_csv}: no class names')
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f'{action_csv}: class name {dup!r} is listed twice')
    return names


def _instances(label: str, duration: float, rng: np.random.Generator) -> list[Instance]:
    """1-3 non-overlapping instances of ``label``: a total coverage split among them, the rest spread as gaps."""
    count = int(rng.choice(len(INSTANCE_COUNT_PROBS), p=INSTANCE_COUNT_PROBS)) + 1
    count = min(count, 1 + int(duration // 30))  # short videos hold one action
    lengths = rng.uniform(0.15, 0.85) * duration * rng.dirichlet(np.full(count, 4.0))
    gaps = (duration - lengths.sum()) * rng.dirichlet(np.ones(count + 1))
    instances, t = [], 0.0
    for length, gap in zip(lengths, gaps[:-1]):
        start = t + gap
        instances.append(Instance(label, round(start, 2), round(min(start + length, duration), 2)))
        t = start + length
    return instances


def activitynet_shaped_records(video_info_csv: str, action_csv: str, max_videos: Optional[int],
                               seed: int) -> list[VideoRecord]:
    """Real ActivityNet-1.3 videos of the labelled subsets, each given one class and 1-3 synthetic instances.

    Video ids lose the csv's ``v_`` prefix, as in the official annotation file (feature files keep it).
    ``max_videos`` videos are drawn from ``training`` and ``validation`` in their real proportion, at least one
    per class in each, and classes are dealt round-robin in a shuffled order within each subset, so every class
    has ``n // 200`` or ``n // 200 + 1`` videos in a subset of ``n`` — every zero-shot split then has training
    and test instances for all of its classes.
    """
    classes = read_activitynet_classes(action_csv)
    rows = _read_csv(video_info_csv, ('video', 'seconds', 'fps', 'subset'))
    rng = np.random.default_rng(seed)
    by_subset = {s: [r for r in rows if r['subset'] == s] for s in LABELLED_SUBSETS}
    for subset, members in by_subset.items():
        if len(members) < len(classes):
            raise ValueError(f'{video_info_csv}: subset {subset!r} has {len(members)} videos, fewer than the '
                             f'{len(classes)} classes of {action_csv}')
    total = sum(len(m) for m in by_subset.values())
    if max_videos is None:
        counts = {s: len(m) for s, m in by_subset.items()}
    else:
        if max_videos < len(classes) * len(by_subset):
            raise ValueError(f'max_videos={max_videos} is too small: each of the {len(classes)} classes needs a '
                             f'video in each of {list(by_subset)} (at least {len(classes) * len(by_subset)})')
        val = min(len(by_subset['validation']),
                  max(len(classes), round(max_videos * len(by_subset['validation']) / total)))
        counts = {'validation': val, 'training': min(len(by_subset['training']), max_videos - val)}
    records = []
    for subset, members in by_subset.items():
        chosen = sorted(rng.choice(len(members), size=counts[subset], replace=False))
        order = rng.permutation(len(classes))
        for k, index in enumerate(chosen):
            row = members[index]
            where = f'{video_info_csv}: video {row["video"]!r}'
            try:
                duration, fps = float(row['seconds']), float(row['fps'])
            except ValueError:
                raise ValueError(f'{where}: "seconds" and "fps" must be numbers, got {row["seconds"]!r}, '
                                 f'{row["fps"]!r}') from None
            if not duration > 0 or not fps > 0:
                raise ValueError(f'{where}: "seconds" and "fps" must be positive, got {duration}, {fps}')
            video_id = row['video'][2:] if row['video'].startswith('v_') else row['video']
            label = classes[order[k % len(classes)]]
            records.append(VideoRecord(video_id, subset, duration, fps, _instances(label, duration, rng)))
    return sorted(records, key=lambda r: r.video_id)
