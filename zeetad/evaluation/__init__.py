"""Evaluation and post-processing: ActivityNet-style detection mAP, batched
Soft-NMS, window merging and the ``TADMetric`` mmengine metric.

Names are imported on first use, so that ``tools/eval_detections.py`` (numpy
only) does not pay for torch and mmengine; the registries import
``zeetad.evaluation.tad_metric`` to register ``TADMetric``.
"""
from importlib import import_module

_EXPORTS = {
    '.annotations': ('load_ground_truth', 'load_predictions', 'load_prediction_table', 'read_name_list'),
    '.detection_map': ('ACTIVITYNET_TIOUS', 'THUMOS14_TIOUS', 'average_precision_detection', 'evaluate_detections'),
    '.postprocess': ('merge_video_detections', 'merge_window_detections', 'official_predictions',
                     'to_official_results', 'video_class_context'),
    '.report': ('format_table', 'save_result_files'),
    '.soft_nms': ('SoftNMSParams', 'batched_soft_nms', 'soft_nms_per_video'),
    '.tad_metric': ('TADMetric',),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
