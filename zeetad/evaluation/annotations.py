"""Read ground truth and predictions in the ActivityNet json layouts.

Malformed input raises ``ValueError`` naming the file, the video and the
entry. Predictions load into a columnar :class:`PredictionTable`; with the
optional ``msgspec`` package the file is decoded straight into typed records
(~5x faster than ``json`` at ActivityNet scale), otherwise with ``json``.
"""
from __future__ import annotations

import difflib
from typing import Iterable, Optional, Union

from .prediction_table import (PredictionTable, check_json_ends, check_segment, read_json, table_from_bytes,
                               table_from_results)

ClassesArg = Optional[Union[str, Iterable[str]]]

__all__ = ['ClassesArg', 'PredictionTable', 'read_name_list', 'read_json', 'ground_truth_from_database',
           'load_ground_truth', 'load_predictions', 'load_prediction_table', 'table_from_results']


def read_name_list(path: str) -> list[str]:
    """One name per line (class split files, blocked-video lists); blank lines
    and ``#`` comments skipped, order kept."""
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f]
    return [n for n in names if n and not n.startswith('#')]


def ground_truth_from_database(database: dict, subset: Optional[str] = None, classes: ClassesArg = None,
                               source: str = 'ground truth') -> tuple[dict, list[str]]:
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
        source: file name used in error messages.

    Returns:
        ``(ground_truth {video: [{"label", "segment"}]}, classes)`` where
        ``classes`` is the given list, or the sorted labels found.
    """
    if isinstance(classes, str):
        classes = read_name_list(classes)
    if not isinstance(database, dict):
        raise ValueError(f'{source}: expected {{"database": {{video: {{...}}}}}}, got {type(database).__name__}')
    keep = None if classes is None else set(classes)
    want = None if subset is None else subset.lower()
    gt = {}
    for vid, info in database.items():
        if not isinstance(info, dict):
            raise ValueError(f'{source}: video {vid!r}: expected an object, got {info!r:.80}')
        if want is not None and str(info.get('subset', '')).lower() != want:
            continue
        anns = []
        for j, a in enumerate(info.get('annotations', [])):
            where = f'{source}: video {vid!r}, annotation {j}'
            if not isinstance(a, dict) or not isinstance(a.get('label'), str):
                raise ValueError(f'{where}: missing or non-string "label": {a!r:.80}')
            segment = check_segment(a.get('segment'), where)
            if keep is None or a['label'] in keep:
                anns.append({'label': a['label'], 'segment': segment})
        gt[vid] = anns
    if classes is None:
        classes = sorted({a['label'] for anns in gt.values() for a in anns})
    return gt, list(classes)


def check_class_names(classes: list[str], known: Iterable[str], classes_source: str, gt_source: str) -> None:
    """Duplicate names, or names that label nothing in the ground truth
    (typos), raise ``ValueError``; a missing name gets a did-you-mean."""
    seen, dups = set(), []
    for c in classes:
        if c in seen and c not in dups:
            dups.append(c)
        seen.add(c)
    if dups:
        raise ValueError(f'{classes_source}: duplicate class names {dups}')
    known = sorted(set(known))
    missing = [c for c in classes if c not in known]
    if missing:
        lower = {k.lower(): k for k in known}
        hints = []
        for c in missing:
            close = ([lower[c.lower()]] if c.lower() in lower else []) or difflib.get_close_matches(c, known, 3)
            hints.append(f'{c!r}' + (f' (did you mean {", ".join(map(repr, close))}?)' if close else ''))
        raise ValueError(f'{classes_source}: class names not in the ground truth {gt_source}: {", ".join(hints)}')


def load_ground_truth(path: str, subset: Optional[str] = None, classes: ClassesArg = None,
                      check_classes: bool = False) -> tuple[dict, list[str], dict]:
    """Load an ActivityNet/ActionFormer-style GT json (top-level ``database``).

    Args:
        check_classes: reject duplicate ``classes`` and names that label no
            instance anywhere in the file (see :func:`check_class_names`).

    Returns:
        ``(ground_truth, classes, durations {video: seconds})``; see
        :func:`ground_truth_from_database`.
    """
    repeated: set = set()
    data = read_json(path, repeated=repeated)
    database = data.get('database', data) if isinstance(data, dict) else data
    twice = sorted(repeated & set(database)) if isinstance(database, dict) else []
    if twice:  # json keeps the last entry of a repeated key: the first one would vanish from the ground truth
        raise ValueError(f'{path}: video {twice[0]!r} has more than one entry ({len(twice)} repeated video ids: '
                         f'{twice[:5]})')
    classes_source = classes if isinstance(classes, str) else 'classes'
    if isinstance(classes, str):
        classes = read_name_list(classes)
    gt, classes = ground_truth_from_database(database, subset, classes, source=path)
    if check_classes:
        known = {a.get('label') for info in database.values() for a in info.get('annotations', [])}
        check_class_names(classes, known, classes_source, path)
    durations = {v: float(database[v]['duration']) for v in gt if 'duration' in database[v]}
    return gt, classes, durations


def load_prediction_table(path: str) -> PredictionTable:
    """Load official-format predictions (``{"results": {video: [{"label",
    "score", "segment"}]}}``, or a bare ``{video: [...]}``) as columns;
    malformed entries raise ``ValueError`` naming the file and the video."""
    check_json_ends(path)  # a truncated file is named before gigabytes are read
    with open(path, 'rb') as f:
        raw = f.read()
    table = table_from_bytes(raw, path)  # fast path; None without msgspec or on anything unusual
    table = table if table is not None else table_from_results(read_json(path, raw), path)
    if raw.count(b'"score"') > len(table):  # some predictions vanished: a video listed twice? (~1 ms per 10 MB)
        _reject_repeated_videos(raw, path)
    return table


def _reject_repeated_videos(raw: bytes, path: str) -> None:
    """``ValueError`` if a video id occurs twice in the results: json keeps the last list only."""
    repeated: set = set()
    data = read_json(path, raw, repeated)
    results = data.get('results', data) if isinstance(data, dict) else {}
    twice = sorted(repeated & set(results)) if isinstance(results, dict) else []
    if twice:
        raise ValueError(f'{path}: video {twice[0]!r} has more than one list of predictions (the first would be '
                         f'ignored; {len(twice)} repeated video ids: {twice[:5]})')


def load_predictions(path: str) -> dict:
    """Load official-format predictions and return the ``results`` mapping
    (a bare ``{video: [...]}`` file is accepted too), checked like
    :func:`load_prediction_table`."""
    data = read_json(path)
    table_from_results(data, path)  # validates
    return data['results'] if isinstance(data, dict) and 'results' in data else data
