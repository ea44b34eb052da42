"""Official-format predictions as columns (no per-prediction dicts).

At ActivityNet-validation scale (490k predictions) the ``json`` module spends
~1 s building dicts; ``msgspec`` (optional) decodes the same file into typed
records in ~0.2 s and reports type errors with their JSON path, which names
the video. Both paths end in the same checks and the same columns.
"""
from __future__ import annotations

import gc
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Mapping, Optional

import numpy as np

from ..utils.json_keys import loads_noting_repeats


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: building ~10^6 acyclic objects
    otherwise triggers a collection every 700 of them (measured: json.loads of
    490k predictions 1.05 s -> 0.48 s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_json(path: str, raw: Optional[bytes] = None, repeated: Optional[set] = None):
    """Parse a JSON file; an empty or malformed file raises ``ValueError``
    naming it (and the line and column). With a ``repeated`` set, keys that
    occur twice within one object are added to it (costs ~1.4x the parse, so
    only for small files such as the ground truth)."""
    if raw is None:
        check_json_ends(path)
        with open(path, 'rb') as f:
            raw = f.read()
    if not raw.strip():
        raise ValueError(f'{path}: empty file (expected JSON)')
    try:
        with gc_paused():
            if repeated is None:
                return json.loads(raw)
            data, twice = loads_noting_repeats(raw)
            repeated |= twice
            return data
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path}: not valid JSON: {err}') from None


def check_json_ends(path: str, probe: int = 4096) -> None:
    """Cheap look at a JSON file's ends before reading it whole: a file cut short (a full disk, a killed copy)
    or not JSON at all raises ``ValueError`` naming it after reading ``2 * probe`` bytes, not gigabytes."""
    with open(path, 'rb') as f:
        size = f.seek(0, 2)
        f.seek(0)
        head = f.read(probe).lstrip()
        f.seek(max(0, size - probe))
        tail = f.read(probe).rstrip()
    if not head:
        return  # empty or blank: read_json says so
    closing = {b'{'[0]: b'}', b'['[0]: b']'}.get(head[0])
    if closing is None:
        raise ValueError(f'{path}: not valid JSON: it starts with {head[:40]!r} ({size:,} bytes; expected "{{")')
    if not tail.endswith(closing):
        raise ValueError(f'{path}: truncated or not valid JSON: its {size:,} bytes end with {tail[-20:]!r}, not '
                         f'the closing {closing.decode()!r} (a copy or write that did not finish?)')


@dataclass
class PredictionTable:
    """Predictions of many videos, in file order.

    Attributes:
        videos: ``(V,)`` video ids; ``counts``: ``(V,)`` predictions of each.
        labels: ``(N,)`` class names; ``scores``: ``(N,)``; ``segments``:
            ``(N, 2)`` ``[start, end]`` seconds.
        source: file name for messages.
    """
    videos: list
    counts: np.ndarray
    labels: list
    scores: np.ndarray
    segments: np.ndarray
    source: str = 'predictions'

    def __len__(self) -> int:
        return len(self.scores)

    def video_of(self, i: int) -> tuple[str, int]:
        """Video and position within it of prediction ``i``."""
        ends = np.cumsum(self.counts)
        v = int(np.searchsorted(ends, i, side='right'))
        return self.videos[v], i - int(ends[v] - self.counts[v])

    def check(self) -> 'PredictionTable':
        """Non-finite scores or segments raise ``ValueError`` naming the video."""
        for name, bad in (('score', ~np.isfinite(self.scores)), ('segment', ~np.isfinite(self.segments).all(1))):
            if bad.any():
                i = int(np.argmax(bad))
                video, j = self.video_of(i)
                value = self.scores[i] if name == 'score' else self.segments[i].tolist()
                raise ValueError(f'{self.source}: video {video!r}, prediction {j}: {name} is not finite '
                                 f'({value}); {int(bad.sum())} such predictions in all')
        backwards = self.segments[:, 1] < self.segments[:, 0]
        if backwards.any():  # would be scored as a miss: a lower mAP and no word why
            video, j = self.video_of(int(np.argmax(backwards)))
            raise ValueError(f'{self.source}: video {video!r}, prediction {j}: segment ends before it starts '
                             f'({self.segments[int(np.argmax(backwards))].tolist()}); {int(backwards.sum())} such '
                             'predictions in all')
        return self

    def flatten(self, label_index: Mapping[str, int], video_index: Mapping[str, int], blocked) -> tuple:
        """The flat arrays ``evaluate_detections`` scores: ``(videos, labels,
        scores, segments, ignored counts)`` of predictions whose video is
        evaluated and not blocked and whose label is scored."""
        n = len(self)
        is_blocked = np.fromiter((v in blocked for v in self.videos), bool, len(self.videos))
        vid = np.fromiter(map(video_index.get, self.videos, repeat(-1)), np.int64, len(self.videos))
        labels = np.fromiter(map(label_index.get, self.labels, repeat(-1)), np.int64, n)
        use_video = np.repeat(~is_blocked & (vid >= 0), self.counts)
        keep = use_video & (labels >= 0)
        ignored = {'unknown_label': int(use_video.sum() - keep.sum()),
                   'unknown_video': int(self.counts[~is_blocked & (vid < 0)].sum()),
                   'blocked_video': int(self.counts[is_blocked].sum())}
        return np.repeat(vid, self.counts)[keep], labels[keep], self.scores[keep], self.segments[keep], ignored

    def to_results(self) -> dict:
        """Back to ``{video: [{"label", "score", "segment"}]}``."""
        out, i = {}, 0
        for v, c in zip(self.videos, self.counts.tolist()):
            out[v] = [{'label': self.labels[k], 'score': float(self.scores[k]), 'segment': self.segments[k].tolist()}
                      for k in range(i, i + c)]
            i += c
        return out


def check_segment(seg, where: str) -> list[float]:
    """``[start, end]`` as floats, or ``ValueError`` prefixed by ``where``."""
    if not isinstance(seg, (list, tuple)) or len(seg) != 2:
        raise ValueError(f'{where}: segment must be [start, end], got {seg!r:.80}')
    try:
        start, end = float(seg[0]), float(seg[1])
    except (TypeError, ValueError):
        raise ValueError(f'{where}: segment must hold two numbers, got {seg!r:.80}') from None
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ValueError(f'{where}: segment is not finite: {seg!r}')
    if end < start:
        raise ValueError(f'{where}: segment ends before it starts: {seg!r}')
    return [start, end]


def _results_of(data, source: str) -> dict:
    if isinstance(data, dict) and 'results' not in data and {'version', 'external_data'} & set(data):
        # an official-format file that lost its "results": not a bare {video: [...]} with a video named 'version'
        raise ValueError(f'{source}: no "results" key (found {sorted(data)[:5]}); expected {{"version", '
                         f'"results": {{video: [predictions]}}, "external_data"}}')
    results = data['results'] if isinstance(data, dict) and 'results' in data else data
    if not isinstance(results, dict):
        raise ValueError(f'{source}: expected {{"results": {{video: [predictions]}}}}, got {type(results).__name__}')
    for vid, preds in results.items():
        if not isinstance(preds, list):
            raise ValueError(f'{source}: video {vid!r}: expected a list of predictions, got {preds!r:.80}')
    return results


def _explain(results: dict, source: str) -> None:
    """Find and report the first malformed prediction (slow; only after the
    fast conversion failed)."""
    for vid, preds in results.items():
        for j, p in enumerate(preds):
            where = f'{source}: video {vid!r}, prediction {j}'
            if not isinstance(p, dict):
                raise ValueError(f'{where}: expected {{"label", "score", "segment"}}, got {p!r:.80}')
            for key in ('label', 'score', 'segment'):
                if key not in p:
                    raise ValueError(f'{where}: missing "{key}"')
            if not isinstance(p['label'], str):
                raise ValueError(f'{where}: label must be a string, got {p["label"]!r:.80}')
            if isinstance(p['score'], bool) or not isinstance(p['score'], (int, float)):
                raise ValueError(f'{where}: score must be a number, got {p["score"]!r:.80}')
            check_segment(p['segment'], where)


def table_from_results(data, source: str = 'predictions') -> PredictionTable:
    """Columns of parsed JSON (``{"results": {...}}`` or a bare ``{video:
    [...]}``), checked; malformed entries raise ``ValueError`` naming the video."""
    results = _results_of(data, source)
    flat = list(chain.from_iterable(results.values()))
    n = len(flat)
    try:  # map/itemgetter loops run in C; a failure is explained by the slow scan
        labels = list(map(itemgetter('label'), flat))
        scores = np.fromiter(map(itemgetter('score'), flat), np.float64, n)
        segs = list(map(itemgetter('segment'), flat))
        if n and set(map(len, segs)) != {2} or not set(map(type, labels)) <= {str}:
            raise ValueError
        segs = np.fromiter(chain.from_iterable(segs), np.float64, 2 * n).reshape(n, 2)
    except (KeyError, TypeError, ValueError):
        _explain(results, source)
        raise
    counts = np.fromiter(map(len, results.values()), np.int64, len(results))
    return PredictionTable(list(results), counts, labels, scores, segs, source).check()


@lru_cache(maxsize=1)
def _msgspec_decoders():
    import msgspec

    # defstruct, not class bodies: this module's postponed annotations would hide the local types.
    # gc=False: records hold only str/float/tuple, never cycles; tracking them costs 4x the decode.
    prediction = msgspec.defstruct('Prediction', [('label', str), ('score', float), ('segment', tuple[float, float])],
                                   gc=False)
    submission = msgspec.defstruct('Submission', [('results', dict[str, list[prediction]])])
    return msgspec, msgspec.json.Decoder(submission), msgspec.json.Decoder(dict[str, list[prediction]])


def table_from_bytes(raw: bytes, source: str = 'predictions') -> Optional[PredictionTable]:
    """Fast path: decode with ``msgspec`` into typed records. ``None`` when
    msgspec is missing, the bytes are not strict JSON (e.g. ``NaN``, which
    Python's ``json`` writes) or an entry is malformed: the caller then uses
    ``json`` and :func:`table_from_results`, which accepts or reports it."""
    try:
        msgspec, submission, bare = _msgspec_decoders()
    except ImportError:
        return None
    try:
        with gc_paused():
            try:
                results = submission.decode(raw).results
            except msgspec.ValidationError as err:
                if '`results`' not in str(err) or '$.results' in str(err):
                    raise
                results = bare.decode(raw)  # no "results" field: a bare {video: [...]} file
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None  # msgspec's message elides the video ("$.results[...]"); the json path names it
    flat = list(chain.from_iterable(results.values()))
    n = len(flat)
    counts = np.fromiter(map(len, results.values()), np.int64, len(results))
    scores = np.fromiter(map(attrgetter('score'), flat), np.float64, n)
    segs = np.fromiter(chain.from_iterable(map(attrgetter('segment'), flat)), np.float64, 2 * n).reshape(n, 2)
    return PredictionTable(list(results), counts, list(map(attrgetter('label'), flat)), scores, segs,
                           source).check()
