"""Read ground truth and predictions in the ActivityNet json layouts."""
from __future__ import annotations

import json
from typing import Iterable, Optional, Union

ClassesArg = Optional[Union[str, Iterable[str]]]


def read_name_list(path: str) -> list[str]:
    """One name per line (class split files, blocked-video lists); blank lines
    and ``#`` comments skipped, order kept."""
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    return [n for n in names if n and not n.startswith('#')]


def ground_truth_from_database(database: dict, subset: Optional[str] = None,
                               classes: ClassesArg = None) -> tuple[dict, list[str]]:
    """Select one subset of an ActivityNet-style ``database``.

    Args:
        database: ``{video: {"subset", "duration", "annotations": [{"label",
            "segment"}]}}``.
        subset: e.g. ``'Test'`` / ``'validation'`` (case-insensitive);
            ``None`` keeps every video.
        classes: class names (or a path to a one-per-line file) restricting
            the ground truth, e.g. the unseen classes of a zero-shot split;
            instances of other classes are dropped but their videos stay
            evaluated. ``None`` keeps all labels.

    Returns:
        ``(ground_truth {video: [{"label", "segment"}]}, classes)`` where
        ``classes`` is the given list, or the sorted labels found.
    """
    if isinstance(classes, str):
        classes = read_name_list(classes)
    keep = None if classes is None else set(classes)
    want = None if subset is None else subset.lower()
    gt = {}
    for vid, info in database.items():
        if want is not None and str(info.get('subset', '')).lower() != want:
            continue
        gt[vid] = [{'label': a['label'], 'segment': [float(a['segment'][0]), float(a['segment'][1])]}
                   for a in info.get('annotations', []) if keep is None or a['label'] in keep]
    if classes is None:
        classes = sorted({a['label'] for anns in gt.values() for a in anns})
    return gt, list(classes)


def load_ground_truth(path: str, subset: Optional[str] = None,
                      classes: ClassesArg = None) -> tuple[dict, list[str], dict]:
    """Load an ActivityNet/ActionFormer-style GT json (top-level ``database``).

    Returns:
        ``(ground_truth, classes, durations {video: seconds})``; see
        :func:`ground_truth_from_database`.
    """
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    database = data.get('database', data)
    gt, classes = ground_truth_from_database(database, subset, classes)
    durations = {v: float(database[v]['duration']) for v in gt if 'duration' in database[v]}
    return gt, classes, durations


def load_predictions(path: str) -> dict:
    """Load official-format predictions and return the ``results`` mapping
    (a bare ``{video: [...]}`` file is accepted too)."""
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    results = data['results'] if isinstance(data, dict) and 'results' in data else data
    if not isinstance(results, dict):
        raise ValueError(f'{path}: expected {{"results": {{video: [...]}}}}')
    return results
