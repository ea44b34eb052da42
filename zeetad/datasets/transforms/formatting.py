"""Packing a loaded window into model inputs and a data sample."""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from zeetad.registry import TRANSFORMS

_META_KEYS = ('video_id', 'duration', 'fps', 'begin_s', 'span_s', 'window', 'classes')


@TRANSFORMS.register_module()
class PackTADInputs(BaseTransform):
    """-> ``dict(inputs=dict(loc=(T, C), clip=(T, D) | None), data_samples=dict(...))``.

    The data sample holds the window's metadata (to map predictions back to seconds), the class names being
    scored and normalised ground truth ``gt_segments (N, 2)`` (start, end in [0, 1]) and ``gt_labels (N,)``.
    """

    def transform(self, results: dict) -> dict:
        inputs = {'loc': torch.from_numpy(np.ascontiguousarray(results['loc_feats']))}
        clip = results.get('clip_feats')
        inputs['clip'] = None if clip is None else torch.from_numpy(np.ascontiguousarray(clip))
        sample = {k: results[k] for k in _META_KEYS if k in results}
        sample['valid_len'] = int(inputs['loc'].shape[0])
        sample['gt_segments'] = torch.as_tensor(results['gt_segments'], dtype=torch.float32).reshape(-1, 2)
        sample['gt_labels'] = torch.as_tensor(results['gt_labels'], dtype=torch.long).reshape(-1)
        return {'inputs': inputs, 'data_samples': sample}
