"""Pictures of a test run's numbers: precision-recall curves per tIoU, per-class AP bars."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from zeetad.evaluation.ranking import curve_ap

from .figure_io import new_figure, save_png
from .precision_recall import mean_precision_curve

PR_SIZE_PX = (820, 560)
AP_WIDTH_PX, AP_ROW_PX, AP_EXTRA_PX = 900, 24, 110


def class_ap_size_px(num_classes: int) -> Tuple[int, int]:
    """``(width, height)`` in pixels of :func:`plot_class_ap` for ``num_classes`` rows."""
    return AP_WIDTH_PX, AP_EXTRA_PX + AP_ROW_PX * max(1, num_classes)


def plot_pr_curves(pr: dict, path: str, title: str = 'Precision-recall (mean over classes)',
                   class_name: Optional[str] = None) -> str:
    """One curve per tIoU from :func:`~zeetad.visualization.precision_recall.precision_recall`'s output.

    Without ``class_name``: the class-mean interpolated precision against recall (its area is ~mAP; the
    legend gives the exact mAP per tIoU). With ``class_name``: that class's raw ranked-list curve and AP.
    """
    from matplotlib import colormaps
    fig = new_figure(*PR_SIZE_PX)
    ax = fig.add_axes((0.09, 0.1, 0.62, 0.8))
    keys = list(pr['curves'])
    cmap = colormaps['viridis']
    scored = [c for c in pr['classes'] if pr['num_gt'][c] > 0]
    mean = mean_precision_curve(pr) if class_name is None else None
    for i, key in enumerate(keys):
        colour = cmap(0.85 * i / max(len(keys) - 1, 1))  # no pale yellow end
        per_class = pr['curves'][key]
        if class_name is None:
            aps = [curve_ap(per_class[c]['precision'], per_class[c]['recall']) for c in scored]
            ap = float(np.mean(aps)) if aps else float('nan')
            ax.plot(mean['recall'], mean['precision'][key], color=colour, label=f'tIoU {key}: mAP {100 * ap:.1f}')
        else:
            curve = per_class[class_name]
            ap = curve_ap(curve['precision'], curve['recall'])
            ax.step(curve['recall'], curve['precision'], where='post', color=colour,
                    label=f'tIoU {key}: AP {100 * ap:.1f}')
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel('recall')
    ax.set_ylabel('precision')
    ax.grid(color='0.9')
    ax.set_title(title if class_name is None else f'{title}: {class_name}', fontsize=10, loc='left')
    ax.legend(loc='upper left', bbox_to_anchor=(1.02, 1.0), fontsize=9, frameon=False)
    return save_png(fig, path)


def plot_class_ap(result: dict, path: str, title: str = 'Per-class AP') -> str:
    """Bars of each class's AP averaged over tIoU, dots for each tIoU, the mAP as a line.

    Args:
        result: output of :func:`zeetad.evaluation.evaluate_detections`.
    """
    from matplotlib import colormaps
    items = sorted(((float(np.mean(a)), n, a) for n, a in result['per_class'].items() if a), key=lambda x: -x[0])
    w_px, h_px = class_ap_size_px(len(items))
    fig = new_figure(w_px, h_px)
    longest = max((len(n) for _, n, _ in items), default=5)
    left = min(0.4, (30 + 6.8 * longest) / w_px)
    ax = fig.add_axes((left, 60 / h_px, 0.78 - left, 1 - 100 / h_px))
    y = np.arange(len(items))
    ax.barh(y, [100 * m for m, _, _ in items], color='0.75', label='average over tIoU')
    keys = list(result['mAP'])
    cmap = colormaps['viridis']
    for j, key in enumerate(keys):
        ax.scatter([100 * a[j] for _, _, a in items], y, s=14, color=cmap(0.85 * j / max(len(keys) - 1, 1)),
                   zorder=3, label=f'@{key}')
    ax.axvline(100 * result['average'], color='tab:red', linestyle='--', label=f'mAP {100 * result["average"]:.2f}')
    ax.set_yticks(y, [n for _, n, _ in items], fontsize=8)
    ax.set_ylim(len(items) - 0.5, -0.5)
    ax.set_xlim(0, 100)
    ax.set_xlabel('AP (%)')
    ax.grid(axis='x', color='0.9')
    ax.set_axisbelow(True)
    ax.set_title(title, fontsize=10, loc='left')
    ax.legend(loc='upper left', bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return save_png(fig, path)
