"""One-call class-name encoding from a text-encoder config."""
from typing import Sequence, Union

import numpy as np
import torch

from zeetad.registry import MODELS
from .clip_text_encoder import CLIPTextEncoder


def encode_class_names(text_encoder_cfg: dict, class_names: Sequence[str],
                       device: Union[str, torch.device] = 'cpu') -> np.ndarray:
    """Build a text encoder from ``text_encoder_cfg`` and encode ``class_names``.

    Args:
        text_encoder_cfg: config of a registered text encoder; ``type``
            defaults to :class:`CLIPTextEncoder`, other keys are its arguments.
        class_names: K class labels.
        device: where the encoder runs.

    Returns:
        float32 array ``(K, D)``, rows L2-normalised.

    Example:
        >>> from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, make_random_clip_checkpoint
        >>> ckpt = make_random_clip_checkpoint('/tmp/tiny_clip.pt')
        >>> emb = encode_class_names(dict(model_config_file=TINY_CLIP_CONFIG, pretrained=ckpt),
        ...                          ['HighJump', 'LongJump'])  # (2, 256)
    """
    cfg = dict(text_encoder_cfg)
    cfg.setdefault('type', CLIPTextEncoder)
    encoder = MODELS.build(cfg).to(device).eval()
    with torch.no_grad():
        emb = encoder.encode(list(class_names))
    return emb.detach().float().cpu().numpy()
