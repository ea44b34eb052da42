"""What detect writes: official-format JSON, a human-readable table, timeline PNGs and their curves."""
from __future__ import annotations

import os
from typing import Mapping, Optional

import numpy as np


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, float(seconds)), 60.0)
    h, m = divmod(int(m), 60)
    return f'{h}:{m:02d}:{s:04.1f}' if h else f'{m}:{s:04.1f}'


def format_detections(results: Mapping[str, list], durations: Optional[Mapping[str, float]] = None,
                      score_thr: float = 0.1, max_rows: int = 20, failed: Optional[Mapping[str, str]] = None) -> str:
    """Plain-text table per video: the ``max_rows`` best detections with score >= ``score_thr``, by start time."""
    lines = []
    for vid in sorted(results):
        dets = [d for d in results[vid] if float(d['score']) >= score_thr]
        shown = sorted(sorted(dets, key=lambda d: -float(d['score']))[:max_rows], key=lambda d: d['segment'][0])
        length = f', {durations[vid]:.1f} s' if durations and vid in durations else ''
        lines.append(f'{vid}{length}: {len(dets)} detections with score >= {score_thr:g} '
                     f'(of {len(results[vid])}){f", best {len(shown)} shown" if len(shown) < len(dets) else ""}')
        if not shown:
            lines.append(f'  no typed name found with score >= {score_thr:g}')
            continue
        width = max(5, *(len(d['label']) for d in shown))
        lines.append(f'  {"start":>9}  {"end":>9}  {"start_s":>8}  {"end_s":>8}  {"class":<{width}}  score')
        for d in shown:
            s, e = (float(x) for x in d['segment'])
            lines.append(f'  {_clock(s):>9}  {_clock(e):>9}  {s:8.2f}  {e:8.2f}  {d["label"]:<{width}}  '
                         f'{float(d["score"]):.3f}')
    for vid, reason in sorted((failed or {}).items()):
        lines.append(f'{vid}: FAILED: {reason}')
    return '\n'.join(lines)


def save_curves(curves: Mapping[str, Mapping[str, tuple]], path: str) -> str:
    """Per-video curves to one ``.npz``: keys ``"<video>/<name>/t"`` and ``"<video>/<name>/v"``."""
    from zeetad.utils.atomic_io import atomic_path
    arrays = {}
    for vid, named in curves.items():
        for name, (t, v) in named.items():
            arrays[f'{vid}/{name}/t'] = np.asarray(t, np.float64)
            arrays[f'{vid}/{name}/v'] = np.asarray(v, np.float64)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as f:
            np.savez_compressed(f, **arrays)
    return path


def load_curves(path: str, video_id: Optional[str] = None) -> dict:
    """Inverse of :func:`save_curves`: ``{video: {name: (t, v)}}`` (one video's dict if ``video_id``)."""
    out: dict = {}
    with np.load(path) as data:
        for key in data.files:
            vid, rest = key.split('/', 1)
            name, kind = rest.rsplit('/', 1)
            slot = out.setdefault(vid, {}).setdefault(name, [None, None])
            slot[0 if kind == 't' else 1] = data[key]
    out = {vid: {n: (t, v) for n, (t, v) in named.items()} for vid, named in out.items()}
    return out.get(video_id, {}) if video_id is not None else out


def write_outputs(run, out_json: str, *, table_thr: float = 0.1, table_rows: int = 20, plot: bool = False,
                  plot_thr: float = 0.05) -> dict:
    """Write ``out_json`` (official format), ``<stem>.txt`` (the table), curves and, with ``plot``,
    ``<stem>_plots/<video>.png``. Returns ``{"json", "table", "curves", "plots": {video: png}}``."""
    from zeetad.evaluation.postprocess import official_predictions
    from zeetad.utils.atomic_io import atomic_write_json, atomic_write_text
    stem = os.path.splitext(out_json)[0]
    details = f'zeetad detect ({run.method}); classes: {", ".join(run.classes)}'
    atomic_write_json(out_json, official_predictions(run.results, version='zeetad-detect',
                                                     external_data={'used': False, 'details': details}))
    durations = {v: m.duration for v, m in run.videos.items()}
    table = format_detections(run.results, durations, table_thr, table_rows, run.failed)
    if run.score_meaning:
        table = f'{table}\nscore: {run.score_meaning}'
    files = dict(json=out_json, table=stem + '.txt', plots={})
    atomic_write_text(files['table'], table + '\n')
    if run.curves:
        files['curves'] = save_curves(run.curves, stem + '_curves.npz')
    if plot:
        from zeetad.visualization.timeline import plot_timeline
        for vid, dets in run.results.items():
            files['plots'][vid] = plot_timeline(os.path.join(stem + '_plots', f'{vid}.png'), dets, None,
                                                duration=durations.get(vid), video_id=vid, classes=run.classes,
                                                curves=run.curves.get(vid), curves_label=run.curves_label,
                                                score_thr=plot_thr)
    return files
