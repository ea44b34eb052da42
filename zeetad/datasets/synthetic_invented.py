"""An invented dataset (not THUMOS14's timings): the videos, instances and zero-shot splits of the hard benchmark.

``tools/data/make_synthetic_data.py --shape invented`` lays the synthetic features (``synthetic.py``) over these
records. Every class is the main class of the same number of videos in each subset, so a 75/25 split of 24
classes (18 seen, 6 unseen) always has training and test videos for each class; instances are a mix of short
(seconds) and long (tens of seconds) ones, never overlapping within a video.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .annotations import Instance, VideoRecord
from .splits import write_split_files

INVENTED_CLASSES = (
    'juggling torches', 'folding a kite', 'stacking stones', 'rowing a canoe', 'sharpening a blade',
    'skipping rope', 'planting a sapling', 'tossing a frisbee', 'kneading dough', 'climbing a ladder',
    'throwing a javelin', 'braiding hair', 'sweeping a floor', 'painting a fence', 'walking a slackline',
    'hammering a nail', 'spinning a top', 'pouring tea', 'shoveling snow', 'riding a unicycle',
    'casting a fishing line', 'ringing a bell', 'serving a volleyball', 'lifting a kettlebell',
)
TRAIN_SUBSET, TEST_SUBSET = 'train', 'test'


def invented_records(num_videos: int = 120, num_classes: int = 24, fps: float = 25.0, seed: int = 0,
                     duration_s: tuple = (60.0, 180.0), short_s: tuple = (1.0, 4.0), long_s: tuple = (15.0, 45.0),
                     long_fraction: float = 0.3, instances: tuple = (2, 6), second_class: float = 0.3,
                     test_fraction: float = 0.5) -> list[VideoRecord]:
    """``num_videos`` videos of ``num_classes`` invented classes, split into ``train`` / ``test`` subsets."""
    if not 1 <= num_classes <= len(INVENTED_CLASSES):
        raise ValueError(f'--num-classes must be 1..{len(INVENTED_CLASSES)}, got {num_classes}')
    if num_videos < 2 * num_classes:
        raise ValueError(f'--max-videos {num_videos} < 2 x {num_classes} classes: every class needs a training '
                         f'and a test video')
    rng = np.random.default_rng([seed, 7])
    classes = INVENTED_CLASSES[:num_classes]
    per_class = num_videos // num_classes
    test_per_class = max(1, round(per_class * test_fraction))
    records = []
    for v in range(num_videos):
        main = classes[v % num_classes]
        subset = TEST_SUBSET if v < test_per_class * num_classes else TRAIN_SUBSET
        labels = [main]
        if rng.random() < second_class:
            labels.append(classes[rng.integers(num_classes)])
        duration = float(rng.uniform(*duration_s))
        records.append(VideoRecord(f'inv_{v:04d}', subset, round(duration, 2), fps,
                                   _place_instances(rng, duration, labels, short_s, long_s, long_fraction,
                                                    instances)))
    return records


def _place_instances(rng, duration, labels, short_s, long_s, long_fraction, count_range) -> list[Instance]:
    """Non-overlapping instances left to right with random gaps; the first label is the most frequent."""
    count = int(rng.integers(count_range[0], count_range[1] + 1))
    lengths = [float(rng.uniform(*(long_s if rng.random() < long_fraction else short_s))) for _ in range(count)]
    while sum(lengths) > 0.7 * duration and len(lengths) > 1:
        lengths.pop()
    gaps = rng.dirichlet(np.ones(len(lengths) + 1)) * (duration - sum(lengths))
    out, t = [], 0.0
    for k, length in enumerate(lengths):
        t += gaps[k]
        label = labels[0] if k % 2 == 0 or len(labels) == 1 else labels[1]
        out.append(Instance(label, round(t, 2), round(t + length, 2)))
        t += length
    return out


def write_invented_splits(root: str, dataset: str, classes: Sequence[str], seed: int = 0, ratio: int = 75,
                          num_splits: int = 3) -> Path:
    """Random ``ratio``/``100 - ratio`` class splits in the published file layout; returns the splits root."""
    classes = sorted(classes)
    n_train = round(len(classes) * ratio / 100)
    for index in range(num_splits):
        order = np.random.default_rng([seed, 11, index]).permutation(len(classes))
        write_split_files(root, dataset, ratio, index, sorted(classes[i] for i in order[:n_train]),
                          sorted(classes[i] for i in order[n_train:]))
    return Path(root)
