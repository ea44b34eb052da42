"""Keeping freed memory in the process heap for inference on CPU (glibc only; a no-op elsewhere).

glibc serves blocks above its mmap threshold (dynamic, at most 32 MiB) with fresh ``mmap`` pages and returns
freed heap tops to the OS above its trim threshold. A batch of 32 windows allocates and frees buffers of
4-33 MiB per layer (the 2048-d input, the FFN's ``(B * T, 1024)``, the dense attention matrix), so every
forward pays page faults and zero-filling for memory it just released. Raising both thresholds lets the
allocator reuse those pages: the same numbers, 6.5 % (float32) to 14 % (bf16) less CPU time per window on the
THUMOS14 model
(docs/benchmarks.md), at the price of the process keeping its peak heap. ``ZEETAD_RETAIN_HEAP=0`` turns it off.
"""
from __future__ import annotations

import ctypes
import os
import sys

__all__ = ['retain_freed_heap']

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD = 256 * 2**20  # blocks up to this size come from the heap and are reused after free
TRIM_THRESHOLD = 2**31 - 1  # free heap kept up to ~2 GiB before it is returned to the OS
_applied = False


def retain_freed_heap() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True if they were set (now or before).

    False on other C libraries or platforms, or when the environment sets ``ZEETAD_RETAIN_HEAP=0``.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get('ZEETAD_RETAIN_HEAP', '1') == '0' or not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL('libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no glibc mallopt
        return False
    _applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
