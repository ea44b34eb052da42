"""Timeline picture of one video: ground-truth and predicted segments per class, optional curves below.

One row per class: ground truth as outlined grey bars in the upper half of the row, predictions as bars
in the class colour in the lower half, their opacity the score (the best few also print it). Seconds on
the x axis. An optional lower panel draws per-frame curves (CLIP frame-class similarity, actionness,
ZEAL start/end confidences) on the same time axis.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Tuple

import numpy as np

from .figure_io import new_figure, save_png

ROW_PX, HEADER_PX, FOOTER_PX, CURVES_PX = 34, 64, 70, 190
MIN_ALPHA = 0.12

Curves = Mapping[str, Tuple[np.ndarray, np.ndarray]]


def timeline_size_px(num_rows: int, with_curves: bool = False, width_px: int = 1200) -> Tuple[int, int]:
    """``(width, height)`` in pixels of a timeline with ``num_rows`` class rows."""
    return int(width_px), HEADER_PX + FOOTER_PX + ROW_PX * max(1, num_rows) + (CURVES_PX if with_curves else 0)


def timeline_classes(predictions: Sequence[Mapping], ground_truth: Optional[Sequence[Mapping]] = None,
                     score_thr: float = 0.0) -> list:
    """Row order: classes with ground truth first (by first start), then predicted-only classes by best score."""
    gt = sorted(ground_truth or (), key=lambda a: float(a['segment'][0]))
    rows = list(dict.fromkeys(a['label'] for a in gt))
    best: dict = {}
    for p in predictions:
        if float(p['score']) >= score_thr and p['label'] not in rows:
            best[p['label']] = max(best.get(p['label'], 0.0), float(p['score']))
    return rows + sorted(best, key=lambda c: (-best[c], c))


def _colours(n: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps['tab10' if n <= 10 else 'tab20']
    return [cmap(i % cmap.N) for i in range(n)]


def plot_timeline(path: str, predictions: Sequence[Mapping], ground_truth: Optional[Sequence[Mapping]] = None, *,
                  duration: Optional[float] = None, video_id: str = '', classes: Optional[Sequence[str]] = None,
                  curves: Optional[Curves] = None, curves_label: str = 'per-frame score',
                  score_thr: float = 0.05, max_per_class: int = 30, labels_per_class: int = 3,
                  width_px: int = 1200, title: Optional[str] = None) -> str:
    """Draw one video's timeline PNG to ``path`` (returns ``path``).

    Args:
        predictions: ``[{"label", "score", "segment": [s, e]}]`` in seconds (official results format).
        ground_truth: ``[{"label", "segment"}]`` or ``None``.
        duration: video length (s); default the latest segment end or curve time.
        classes: rows to draw, in order (default :func:`timeline_classes`); others are left out.
        curves: ``{name: (times (T,), values (T,))}`` for the lower panel; ``"<class>"`` or
            ``"<class> (start)"`` is drawn in that class's colour, names ending in ``"(end)"`` dashed.
        score_thr: predictions below are not drawn; ``max_per_class`` best per class at most.
        labels_per_class: how many of each class's best predictions print their score.
    """
    rows = list(classes) if classes is not None else timeline_classes(predictions, ground_truth, score_thr)
    w_px, h_px = timeline_size_px(len(rows), bool(curves), width_px)
    fig = new_figure(w_px, h_px)
    draw_timeline(fig, rows, predictions, ground_truth, duration=duration, curves=curves,
                  curves_label=curves_label, score_thr=score_thr, max_per_class=max_per_class,
                  labels_per_class=labels_per_class,
                  title=title if title is not None else f'{video_id}  (predictions with score >= {score_thr:g})')
    return save_png(fig, path)


def _row_of_curve(name: str, rows: Sequence[str]) -> Optional[str]:
    """The class a curve belongs to: ``"high jump"`` or ``"high jump (start)"`` -> ``"high jump"``."""
    matches = [r for r in rows if name == r or name.startswith(r + ' (')]
    return max(matches, key=len) if matches else None


def _end_time(predictions, ground_truth, curves) -> float:
    ends = [float(a['segment'][1]) for a in list(predictions) + list(ground_truth or ())]
    ends += [float(np.max(t)) for t, _ in (curves or {}).values() if len(t)]
    return max(ends, default=1.0)


def draw_timeline(fig, rows: Sequence[str], predictions, ground_truth=None, *, duration=None, curves=None,
                  curves_label: str = 'per-frame score', score_thr: float = 0.05, max_per_class: int = 30,
                  labels_per_class: int = 3, title: str = '') -> None:
    """Draw into an existing figure sized by :func:`timeline_size_px` (see :func:`plot_timeline`)."""
    from matplotlib.patches import Patch, Rectangle

    w_px, h_px = fig.get_size_inches() * fig.dpi
    duration = float(duration) if duration else _end_time(predictions, ground_truth, curves)
    longest = max((len(r) for r in rows), default=5)
    left = min(0.35, (30 + 7.4 * longest) / w_px)  # room for the class names at fontsize 9
    rows_px = ROW_PX * max(1, len(rows))
    colour = dict(zip(rows, _colours(len(rows))))
    row_of = {c: i for i, c in enumerate(rows)}

    top = 1 - HEADER_PX / h_px
    ax = fig.add_axes((left, top - rows_px / h_px, 0.98 - left, rows_px / h_px))
    for a in ground_truth or ():
        if a['label'] in row_of:
            s, e = (float(x) for x in a['segment'])
            ax.add_patch(Rectangle((s, row_of[a['label']] - 0.44), max(e - s, 1e-3), 0.4, facecolor='0.82',
                                   edgecolor='black', linewidth=0.9))
    by_class: dict = {}
    for p in predictions:
        if p['label'] in row_of and float(p['score']) >= score_thr:
            by_class.setdefault(p['label'], []).append(p)
    x_per_s = (0.98 - left) * w_px / max(duration, 1e-9)
    for label, preds in by_class.items():
        preds = sorted(preds, key=lambda p: -float(p['score']))[:max_per_class]
        y = row_of[label]
        for rank, p in reversed(list(enumerate(preds))):  # weakest first, strongest drawn on top
            s, e = (float(x) for x in p['segment'])
            score = float(np.clip(p['score'], 0.0, 1.0))
            ax.add_patch(Rectangle((s, y + 0.04), max(e - s, 1e-3), 0.4, facecolor=colour[label],
                                   alpha=MIN_ALPHA + (1 - MIN_ALPHA) * score, linewidth=0))
            if rank < labels_per_class and (e - s) * x_per_s >= 26:
                ax.text((s + e) / 2, y + 0.24, f'{float(p["score"]):.2f}', ha='center', va='center',
                        fontsize=7, color='white' if score > 0.5 else 'black')
    ax.set_xlim(0, duration)
    ax.set_ylim(len(rows) - 0.5 if rows else 0.5, -0.5)
    ax.set_yticks(range(len(rows)), rows, fontsize=9)
    for i in range(1, len(rows)):
        ax.axhline(i - 0.5, color='0.9', linewidth=0.6, zorder=0)
    ax.grid(axis='x', color='0.9', linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_title(title, fontsize=10, loc='left')
    handles = [Patch(facecolor='0.82', edgecolor='black', label='ground truth'),
               Patch(facecolor='tab:blue', alpha=0.85, label='prediction (opacity = score)')]
    if ground_truth is None:
        handles = handles[1:]
    ax.legend(handles=handles, loc='lower right', bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    if not rows:
        ax.text(duration / 2, 0, 'no detections above the threshold', ha='center', va='center', color='0.4')

    if curves:
        ax.tick_params(labelbottom=False)
        bottom = FOOTER_PX / h_px
        cax = fig.add_axes((left, bottom, 0.98 - left, (CURVES_PX - 24) / h_px), sharex=ax)
        others = iter(['black', '0.45', 'darkslategray', '0.7'] * len(curves))  # not a row's colour
        for name, (times, values) in curves.items():
            row = _row_of_curve(name, rows)
            cax.plot(np.asarray(times, float), np.asarray(values, float), linewidth=1.1, label=name,
                     color=colour[row] if row is not None else next(others),
                     linestyle='--' if name.endswith('(end)') else '-')
        cax.set_ylabel(curves_label, fontsize=8)
        cax.grid(color='0.9', linewidth=0.6)
        cax.legend(fontsize=7, loc='upper right', ncol=min(4, len(curves)), framealpha=0.85, edgecolor='none')
        cax.set_xlabel('time (s)')
    else:
        ax.set_xlabel('time (s)')
