"""Feature-level augmentation for training windows."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from zeetad.registry import TRANSFORMS


@TRANSFORMS.register_module()
class FeatureNoise(BaseTransform):
    """Adds Gaussian noise of ``std`` (relative to each stream's feature std) to the loaded streams."""

    def __init__(self, std: float = 0.1, keys=('loc_feats', 'clip_feats')):
        self.std, self.keys = std, tuple(keys)

    def transform(self, results: dict) -> dict:
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))  # follows the seeded global RNG
        for key in self.keys:
            feats = results.get(key)
            if feats is not None and self.std > 0:
                scale = self.std * float(feats.std() + 1e-6)
                results[key] = feats + rng.normal(0.0, scale, feats.shape).astype(feats.dtype)
        return results
