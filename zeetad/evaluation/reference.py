"""Transitional alias of :mod:`zeetad.testing.reference` for tools/benchmark_eval.py (a parallel branch's file);
remove once it imports the new home."""
from zeetad.testing.reference import (loop_average_precision, loop_evaluate_detections,  # noqa: F401
                                      loop_interpolated_ap, loop_soft_nms, loop_tiou)
