"""Batch collation that keeps each window's inputs and data sample intact."""
from __future__ import annotations

from typing import Sequence

from zeetad.registry import FUNCTIONS


@FUNCTIONS.register_module()
def tad_collate(batch: Sequence[dict]) -> dict:
    """``[dict(inputs, data_samples), ...]`` -> ``dict(inputs=[...], data_samples=[...])``.

    mmengine's ``pseudo_collate`` would transpose nested tuples (window bounds, class lists); padding and
    stacking happen in :class:`TADDataPreprocessor`.
    """
    return {'inputs': [item['inputs'] for item in batch], 'data_samples': [item['data_samples'] for item in batch]}
