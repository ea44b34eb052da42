"""Data structures shared by models, evaluation and ZEAL: temporal segments (conversions, tIoU)."""
from .segments import (generalized_segment_iou, paired_tiou, segment_cw_to_t1t2, segment_iou, segment_length,
                       segment_t1t2_to_cw)

__all__ = ['segment_cw_to_t1t2', 'segment_t1t2_to_cw', 'segment_length', 'segment_iou', 'generalized_segment_iou',
           'paired_tiou']
