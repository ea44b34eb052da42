"""Batching variable-length windows: pad, stack, build the padding mask, move to the device."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from zeetad.registry import MODELS


@MODELS.register_module()
class TADDataPreprocessor(BaseDataPreprocessor):
    """``pseudo_collate``d windows -> ``dict(loc (B, T, C), clip (B, T, D) | None, mask (B, T))``.

    ``mask`` is True at padded steps. ``pad_to`` pads every batch to a fixed length (static shapes);
    otherwise batches are padded to their longest window, rounded up to ``pad_multiple``.
    ``l2_normalize_clip`` re-normalises CLIP frame features after the dataset's interpolation.
    """

    def __init__(self, pad_to: Optional[int] = None, pad_multiple: int = 1, l2_normalize_clip: bool = True,
                 non_blocking: bool = False):
        super().__init__(non_blocking)
        self.pad_to, self.pad_multiple, self.l2_normalize_clip = pad_to, pad_multiple, l2_normalize_clip

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs, samples = data['inputs'], data['data_samples']
        if isinstance(inputs, dict):
            raise TypeError('TADDataPreprocessor expects a list of inputs: use collate_fn=dict(type="zeetad.tad_collate")')
        lengths = [x['loc'].shape[0] for x in inputs]
        target = self.pad_to or max(lengths)
        target = -(-target // self.pad_multiple) * self.pad_multiple
        if max(lengths) > target:
            raise ValueError(f'a window has {max(lengths)} steps, more than data_preprocessor.pad_to={self.pad_to}')
        loc = torch.stack([F.pad(x['loc'], (0, 0, 0, target - n)) for x, n in zip(inputs, lengths)])
        mask = torch.arange(target)[None, :] >= torch.tensor(lengths)[:, None]
        clip = None
        if inputs[0].get('clip') is not None:
            clip = torch.stack([F.pad(x['clip'], (0, 0, 0, target - n)) for x, n in zip(inputs, lengths)])
            if self.l2_normalize_clip:
                clip = F.normalize(clip, dim=-1)
        batch = self.cast_data({'loc': loc.float(), 'clip': None if clip is None else clip.float(), 'mask': mask})
        return {'inputs': batch, 'data_samples': self.cast_data(list(samples))}
