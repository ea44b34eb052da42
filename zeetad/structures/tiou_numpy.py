"""tIoU of aligned segment pairs in numpy: the evaluator's kernel, importable without torch (the eval CLI
loads numpy only). Tested bit-identical to :func:`zeetad.structures.segments.segment_iou`."""
import numpy as np


def paired_tiou(a_start: np.ndarray, a_end: np.ndarray, b_start: np.ndarray, b_end: np.ndarray) -> np.ndarray:
    """tIoU of row-aligned segment pairs given as ``(K,)`` start/end columns (numpy, for the mAP evaluator).

    Returns ``(K,)`` float64. Lengths are clamped at 0 and a zero union gives 0 (the official code divides by
    zero); the union is ``(len_a + len_b) - inter``, the official evaluator's operation order, so values are
    bit-identical to it.
    """
    inter = np.minimum(a_end, b_end)
    inter -= np.maximum(a_start, b_start)
    np.maximum(inter, 0.0, out=inter)
    union = np.maximum(a_end - a_start, 0.0)
    union += np.maximum(b_end - b_start, 0.0)
    union -= inter
    out = np.zeros(len(inter))
    np.divide(inter, union, out=out, where=union > 0)
    return out
