"""Data structures shared by models, evaluation and ZEAL: temporal segments (conversions, tIoU).

Names are imported on first use, so the numpy-only evaluator (``tiou_numpy``) does not pull in torch.
"""
import importlib

_HOME = {'segment_cw_to_t1t2': 'segments', 'segment_t1t2_to_cw': 'segments', 'segment_length': 'segments',
         'segment_iou': 'segments', 'generalized_segment_iou': 'segments', 'paired_tiou': 'tiou_numpy'}
__all__ = list(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(f'.{_HOME[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
