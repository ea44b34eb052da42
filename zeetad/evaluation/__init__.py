"""Evaluation and post-processing: ActivityNet-style detection mAP, batched
Soft-NMS, window merging and the ``TADMetric`` mmengine metric."""
from .annotations import load_ground_truth, load_predictions, read_name_list  # noqa: F401
from .detection_map import (ACTIVITYNET_TIOUS, THUMOS14_TIOUS, average_precision_detection,  # noqa: F401
                            evaluate_detections)
from .postprocess import (merge_video_detections, merge_window_detections, official_predictions,  # noqa: F401
                          to_official_results)
from .report import format_table, save_result_files  # noqa: F401
from .soft_nms import batched_soft_nms, soft_nms_per_video  # noqa: F401
from .tad_metric import TADMetric  # noqa: F401
