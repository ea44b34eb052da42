"""Test-time helpers of :class:`~zeetad.models.zeetad.ZEETAD`: the autocast dtype and the shuffled-names control."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

__all__ = ['AUTOCAST_DTYPES', 'native_bf16', 'resolve_autocast', 'cyclic_permutation']

AUTOCAST_DTYPES = (None, 'bfloat16', 'float16', 'auto')


def native_bf16(device_type: str = 'cpu') -> bool:
    """Whether this machine runs bf16 matrix products natively on ``device_type``: a CPU with AVX512-BF16 or
    AMX (elsewhere oneDNN emulates bf16, slower than float32). CUDA is not measured here: False."""
    if device_type != 'cpu':
        return False
    checks = (getattr(torch.cpu, '_is_avx512_bf16_supported', None), getattr(torch.cpu, '_is_amx_tile_supported', None))
    return any(check is not None and check() for check in checks)


def resolve_autocast(value: Optional[str], device_type: str = 'cpu') -> Optional[str]:
    """``test_cfg.autocast`` -> the dtype name inference runs under (None: float32); ``'auto'`` is
    ``'bfloat16'`` where :func:`native_bf16`, else None."""
    if value == 'auto':
        return 'bfloat16' if native_bf16(device_type) else None
    return value


def cyclic_permutation(k: int, seed: int) -> np.ndarray:
    """A random permutation of ``range(k)`` that is one ``k``-cycle (Sattolo's algorithm), so for ``k >= 2``
    no index maps to itself; deterministic per ``seed`` and always terminates (one pass)."""
    perm = np.arange(k)
    rng = np.random.default_rng(seed)
    for i in range(k - 1, 0, -1):
        j = int(rng.integers(i))  # j < i (not <= i): this is what makes a single cycle
        perm[i], perm[j] = perm[j], perm[i]
    return perm
