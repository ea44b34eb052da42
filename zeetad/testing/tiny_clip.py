"""A tiny randomly initialised CLIP that stands in for a trained one.

No weights can be downloaded in tests or the demo, so they build this model,
save it, and load it back through the real ``pretrained=PATH`` path.

Why ``attn_gain``: with open_clip's default init, attention in a random text
transformer is nearly uniform, so the EOT token mostly averages the template
words every prompt shares. The 20 THUMOS14 prompts ("a video of a person
doing {}.") then have mean pairwise cosine 0.92 (seeds 0-4: 0.88-0.95) and
pairs such as high/long jump at 0.99, i.e. nearly one class. Scaling the
query/key/value input projection by 2 sharpens attention so the class words
show through: mean 0.69 (0.60-0.77), closest pair 0.90-0.98. A trained CLIP
separates class prompts clearly, which the synthetic data and the classifier
rely on.
"""
import os
from typing import Optional

import torch
from torch import nn

from zeetad.text.open_clip_loader import register_model_config
from zeetad.utils.atomic_io import atomic_path
from zeetad.utils.resources import config_root

# The tiny model's open_clip config, shipped with the package (zeetad.utils.resources).
TINY_CLIP_CONFIG = str(config_root() / '_base_' / 'clip' / 'zeetad-tiny-clip.json')

DEFAULT_ATTN_GAIN = 2.0


def build_random_clip(model_config_file: str = TINY_CLIP_CONFIG, seed: int = 0,
                      attn_gain: float = DEFAULT_ATTN_GAIN) -> nn.Module:
    """Build the open_clip model of ``model_config_file`` with seeded random init.

    Deterministic for a given seed and leaves the global RNG untouched.
    ``attn_gain`` scales the text blocks' attention input projections (see the
    module docstring); 1.0 keeps open_clip's init.
    """
    import open_clip
    name = register_model_config(model_config_file)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(name, pretrained=None, device='cpu')
    blocks = model.text.transformer.resblocks if hasattr(model, 'text') else model.transformer.resblocks
    with torch.no_grad():
        for blk in blocks:
            weight = getattr(blk.attn, 'in_proj_weight', None)
            if weight is not None:
                weight.mul_(attn_gain)
    return model.eval()


def make_random_clip_checkpoint(path: str, model_config_file: str = TINY_CLIP_CONFIG, seed: int = 0,
                                attn_gain: float = DEFAULT_ATTN_GAIN,
                                model: Optional[nn.Module] = None) -> str:
    """Save a random CLIP's full state dict where open_clip's loader reads it.

    The file is written to a temporary name in the same folder and then moved
    into place with ``os.replace``, so a reader never sees a partial file.

    Args:
        path: destination checkpoint (``.pt``).
        model_config_file: open_clip model config of the architecture.
        seed: init seed.
        attn_gain: see :func:`build_random_clip`.
        model: save this model instead of building one.

    Returns:
        The absolute path written.
    """
    if model is None:
        model = build_random_clip(model_config_file, seed, attn_gain)
    path = os.path.abspath(os.path.expanduser(path))
    with atomic_path(path) as tmp:
        torch.save(model.state_dict(), tmp)
    return path
