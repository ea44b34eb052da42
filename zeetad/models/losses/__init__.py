"""Losses: Hungarian matching and the DETR-style set criterion (segment ops: :mod:`zeetad.structures`)."""
# The segment ops live in zeetad.structures; re-exported beside the losses that use them.
from zeetad.structures.segments import (generalized_segment_iou, segment_cw_to_t1t2, segment_iou, segment_length,
                                        segment_t1t2_to_cw)

from .focal_loss import sigmoid_focal_loss
from .matcher import HungarianMatcher, focal_class_cost
from .set_criterion import DEFAULT_LOSS_WEIGHTS, SetCriterion, actionness_targets

__all__ = [
    'sigmoid_focal_loss', 'HungarianMatcher', 'focal_class_cost', 'segment_cw_to_t1t2', 'segment_t1t2_to_cw',
    'segment_iou', 'generalized_segment_iou', 'segment_length', 'SetCriterion', 'actionness_targets',
    'DEFAULT_LOSS_WEIGHTS'
]
