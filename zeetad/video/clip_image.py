"""The open_clip image tower as a frame encoder, with its preprocessing split in two.

open_clip's eval transform is resize + crop on a PIL image, then ``ToTensor``
and ``Normalize``. :class:`FramePreprocessor` runs the geometric half in the
decoding workers and returns uint8 frames at the model's input size, so only
small uint8 arrays cross process boundaries and the host-to-device copy;
:func:`normalize_frames` does the arithmetic half on the encoder's device. The
composition equals open_clip's own transform (tests check it).
"""
from __future__ import annotations

import logging
import os
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from zeetad.registry import MODELS

logger = logging.getLogger(__name__)

PRECISIONS = ('auto', 'fp32', 'amp', 'bf16', 'fp16')
_ARITHMETIC_STEPS = ('ToTensor', 'MaybeToTensor', 'Normalize')


class FramePreprocessor:
    """``(H, W, 3)`` uint8 RGB -> the model's input geometry, still uint8.

    Args:
        preprocess_cfg: open_clip's preprocess config (``size``, ``mean``,
            ``std``, ``interpolation``, ``resize_mode``, ``fill_color``), e.g.
            ``ClipImageEncoder.preprocess_cfg``. Picklable: the transform is
            built lazily in each process.
    """

    def __init__(self, preprocess_cfg: dict):
        self.cfg = dict(preprocess_cfg)
        self._steps = None

    def _build(self):
        import open_clip
        cfg = self.cfg
        full = open_clip.image_transform(
            cfg.get('size', 224), is_train=False, mean=cfg.get('mean'), std=cfg.get('std'),
            resize_mode=cfg.get('resize_mode'), interpolation=cfg.get('interpolation'),
            fill_color=cfg.get('fill_color', 0))
        return [t for t in full.transforms if type(t).__name__ not in _ARITHMETIC_STEPS]

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image
        if self._steps is None:
            self._steps = self._build()
        img = Image.fromarray(np.ascontiguousarray(rgb), mode='RGB')
        for step in self._steps:
            img = step(img)
        return np.array(img, dtype=np.uint8)  # writable copy: torch.from_numpy needs one

    def __getstate__(self):
        return {'cfg': self.cfg, '_steps': None}


def normalize_frames(frames: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float32, as ``ToTensor`` + ``Normalize``."""
    x = frames.permute(0, 3, 1, 2).to(torch.float32).div(255)
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return x.sub_(mean_t).div_(std_t)


def _describe_pretrained(pretrained: Optional[str]) -> str:
    # A local checkpoint is recorded by absolute path, so a resumed run from another folder still matches.
    if pretrained is None:
        return ''
    path = os.path.expanduser(str(pretrained))
    return os.path.abspath(path) if os.path.isfile(path) else str(pretrained)


@MODELS.register_module()
class ClipImageEncoder(nn.Module):
    """Frozen open_clip image tower: uint8 frames -> ``(N, C)`` embeddings.

    Args:
        model_name: open_clip architecture (``'ViT-B-16'``, ...).
        pretrained: ``None`` (random), an open_clip tag, or a checkpoint path.
        model_config_file: JSON model config for custom architectures.
        cache_dir: download cache for pretrained tags.
        normalize: L2-normalise the embeddings.
        precision: ``'fp32'``, ``'amp'`` (fp16 autocast), ``'bf16'`` (bf16
            autocast), ``'fp16'`` (half weights) or ``'auto'`` (``'amp'`` on
            CUDA, ``'fp32'`` elsewhere); resolved when moved with :meth:`to_device`.
        preprocess_overrides: replace fields of the model's preprocess config,
            e.g. ``dict(mean=(0.5,) * 3, std=(0.5,) * 3)`` for a local SigLIP
            checkpoint whose tag (and so its statistics) open_clip cannot know.
    """

    def __init__(self, model_name: Optional[str] = 'ViT-B-16', pretrained: Optional[str] = None,
                 model_config_file: Optional[str] = None, cache_dir: Optional[str] = None,
                 normalize: bool = True, precision: str = 'auto',
                 preprocess_overrides: Optional[dict] = None):
        super().__init__()
        import open_clip
        from zeetad.text.open_clip_loader import load_open_clip
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
        model, _, self.model_name = load_open_clip(model_name, pretrained, model_config_file, cache_dir)
        cfg = dict(open_clip.get_model_preprocess_cfg(model))
        cfg.update({k: v for k, v in (preprocess_overrides or {}).items() if v is not None})
        cfg.setdefault('mean', open_clip.OPENAI_DATASET_MEAN)
        cfg.setdefault('std', open_clip.OPENAI_DATASET_STD)
        self.preprocess_cfg = cfg
        # Keep only the image tower: the text tower can be as large again.
        self.visual = model.visual.eval().requires_grad_(False)
        del model
        self.pretrained = _describe_pretrained(pretrained)
        self.normalize, self.precision = bool(normalize), precision
        self.embed_dim = self._probe_dim()

    @property
    def input_size(self) -> tuple:
        size = self.preprocess_cfg.get('size', 224)
        return (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)

    def _probe_dim(self) -> int:
        dim = getattr(self.visual, 'output_dim', None)
        if isinstance(dim, int):
            return dim
        with torch.inference_mode():
            return int(self.visual(torch.zeros(1, 3, *self.input_size)).shape[-1])

    def preprocessor(self) -> FramePreprocessor:
        """The worker-side geometric preprocessing for this model."""
        return FramePreprocessor(self.preprocess_cfg)

    def to_device(self, device) -> 'ClipImageEncoder':
        """Move to ``device`` and resolve ``precision='auto'``."""
        device = torch.device(device)
        if self.precision == 'auto':
            self.precision = 'amp' if device.type == 'cuda' else 'fp32'
        self.to(device)
        if self.precision == 'fp16':
            self.visual.half()
        return self

    @property
    def device(self) -> torch.device:
        return next(self.visual.parameters()).device

    @torch.inference_mode()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 frames already at ``input_size`` -> ``(N, C)`` float32."""
        device = self.device
        x = normalize_frames(frames.to(device, non_blocking=True), self.preprocess_cfg['mean'],
                             self.preprocess_cfg['std'])
        if self.precision == 'fp16':
            feats = self.visual(x.half())
        elif self.precision in ('amp', 'bf16'):
            dtype = torch.float16 if self.precision == 'amp' else torch.bfloat16
            with torch.autocast(device.type, dtype=dtype):
                feats = self.visual(x)
        else:
            feats = self.visual(x)
        feats = feats.float()
        return nn.functional.normalize(feats, dim=-1) if self.normalize else feats

    def encode(self, frames: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """:meth:`forward` in batches of ``batch_size``; returns ``(N, C)`` float32 on the CPU."""
        if len(frames) == 0:
            return torch.zeros(0, self.embed_dim)
        outs = [self(frames[i:i + batch_size]).cpu() for i in range(0, len(frames), batch_size)]
        return torch.cat(outs)

    def describe(self) -> dict:
        """Run-level metadata written into feature files."""
        cfg = self.preprocess_cfg
        return dict(model=self.model_name, pretrained=self.pretrained, normalized=self.normalize,
                    feature_dim=int(self.embed_dim), image_size=list(self.input_size),
                    image_mean=[float(v) for v in cfg['mean']], image_std=[float(v) for v in cfg['std']],
                    resize_mode=str(cfg.get('resize_mode', 'shortest')),
                    interpolation=str(cfg.get('interpolation', 'bicubic')))
