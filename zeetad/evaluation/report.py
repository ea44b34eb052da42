"""Result tables, files and plots for detection mAP results."""
from __future__ import annotations

import csv
import io
import math
import os
from typing import Optional

from ..utils.atomic_io import atomic_path, atomic_write_json, atomic_write_text


def _pct(x: Optional[float]) -> str:
    return '-' if x is None or (isinstance(x, float) and math.isnan(x)) else f'{100 * x:.2f}'


def format_table(result: dict, per_class: bool = False, title: str = 'Detection mAP (%)') -> str:
    """Plain-text table of mAP per tIoU and the average (optionally per class).

    Args:
        result: output of :func:`evaluate_detections`.
    """
    keys = list(result['mAP'])
    header = ['class' if per_class else ''] + [f'@{k}' for k in keys] + ['avg']
    rows = [['mAP'] + [_pct(result['mAP'][k]) for k in keys] + [_pct(result['average'])]]
    if per_class:
        for name, aps in result['per_class'].items():
            if aps is None:
                rows.append([name] + ['-'] * (len(keys) + 1))
            else:
                rows.append([name] + [_pct(a) for a in aps] + [_pct(sum(aps) / len(aps))])
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def fmt(r: list) -> str:
        return '| ' + ' | '.join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(r, widths))) + ' |'

    body = [fmt(rows[0])] + ([line] + [fmt(r) for r in rows[1:]] if per_class else [])
    return '\n'.join([title, line, fmt(header), line] + body + [line])


def table_csv(result: dict) -> str:
    """CSV with one row per class (and ``mAP`` first): AP per tIoU and average."""
    keys = list(result['mAP'])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator='\n')
    w.writerow(['class'] + keys + ['average'])
    w.writerow(['mAP'] + [result['mAP'][k] for k in keys] + [result['average']])
    for name, aps in result.get('per_class', {}).items():
        if aps is not None:
            w.writerow([name] + list(aps) + [sum(aps) / len(aps)])
    return buf.getvalue()


def plot_per_class_ap(result: dict, path: str, title: str = 'Per-class average AP') -> None:
    """Horizontal bar chart of each class's AP averaged over tIoU (PNG)."""
    # A bare Figure (no pyplot) touches no global backend state.
    from matplotlib.figure import Figure

    items = sorted(((sum(a) / len(a), n) for n, a in result['per_class'].items() if a), reverse=True)
    fig = Figure(figsize=(7, max(2.0, 0.22 * len(items) + 1)))
    ax = fig.add_subplot()
    ax.barh([n for _, n in items][::-1], [100 * v for v, _ in items][::-1], color='tab:blue')
    ax.axvline(100 * result['average'], color='tab:red', ls='--', label=f'mAP {100 * result["average"]:.2f}')
    ax.set_xlabel('AP (%) averaged over tIoU')
    ax.set_title(title)
    ax.legend(loc='lower right')
    fig.tight_layout()
    with atomic_path(path, suffix='.png') as tmp:
        fig.savefig(tmp, dpi=100, format='png')


def save_result_files(result: dict, result_dir: str, stem: str = 'tad_map', plot: bool = False) -> dict:
    """Write ``<stem>.json``, ``<stem>.csv`` (and ``<stem>_per_class.png``).

    Returns:
        ``{"json": path, "csv": path[, "png": path]}``.
    """
    paths = {'json': os.path.join(result_dir, f'{stem}.json'), 'csv': os.path.join(result_dir, f'{stem}.csv')}
    atomic_write_json(paths['json'], result, indent=2)
    atomic_write_text(paths['csv'], table_csv(result))
    if plot:
        paths['png'] = os.path.join(result_dir, f'{stem}_per_class.png')
        plot_per_class_ap(result, paths['png'])
    return paths
