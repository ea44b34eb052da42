"""Pictures: video timelines, precision-recall curves, per-class AP, and TensorBoard logging.

Importing registers :class:`LocalTensorboardVisBackend` (VISBACKENDS) and :class:`TADVisualizationHook`
(HOOKS); matplotlib and tensorboard are imported only when something is drawn or logged.
"""
from .figure_io import figure_to_rgb, png_size, save_png
from .hook import TADVisualizationHook, draw_run_figures
from .metric_plots import class_ap_size_px, plot_class_ap, plot_pr_curves, PR_SIZE_PX
from .precision_recall import mean_precision_curve, precision_recall
from .timeline import draw_timeline, plot_timeline, timeline_classes, timeline_size_px
from .vis_backend import LocalTensorboardVisBackend

__all__ = [
    'figure_to_rgb', 'png_size', 'save_png', 'TADVisualizationHook', 'draw_run_figures', 'class_ap_size_px',
    'plot_class_ap', 'plot_pr_curves', 'PR_SIZE_PX', 'mean_precision_curve',
    'precision_recall', 'draw_timeline', 'plot_timeline', 'timeline_classes', 'timeline_size_px',
    'LocalTensorboardVisBackend'
]
