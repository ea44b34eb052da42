"""TadTR's own model, built from a checkout of its repository, for speed comparisons in the same process.

Nothing of TadTR ships with zeetad: ``load_tadtr(path)`` imports its ``models`` package from a local checkout
(e.g. ``/tmp/tadtr``, outside this repository). Two stand-ins make it run on a CPU-only machine without
building its CUDA extension, and are the only changes:

- ``easydict`` (TadTR's config object), when not installed: a ``dict`` with attribute access;
- ``models.ops.roi_align.ROIAlign`` (CUDA only): :class:`RoIAlign1d`, a pure-PyTorch 1-D RoIAlign with one
  linear-interpolated sample per bin, reading only those samples. TadTR's kernel with ``ratio=0`` averages
  ``ceil(roi_len / bins)`` samples per bin, so the stand-in samples at most as much; it is still an op that
  TadTR never runs on a CPU (there its ``--disable_cuda`` turns the actionness head off), which is why the
  comparison also has TadTR as it runs on a CPU (``overrides=dict(disable_cuda=True, act_reg=False)``).

Its deformable attention runs its own pure-PyTorch path (``cfg.dfm_att_backend = 'pytorch'``).
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

__all__ = ['RoIAlign1d', 'TadTRBench', 'load_tadtr', 'THUMOS14_TADTR']

# TadTR's configs/thumos14_i3d2s_tadtr.yml on top of its opts.py defaults.
THUMOS14_TADTR = dict(enc_layers=4, dec_layers=4, dim_feedforward=1024, num_queries=40, feature_dim=2048,
                      dataset_name='thumos14', hidden_dim=256, nheads=8, enc_n_points=4, dec_n_points=4,
                      act_reg=True, seg_refine=True, aux_loss=True, dfm_att_backend='pytorch')


class RoIAlign1d(nn.Module):
    """``features (B, C, T)``, ``rois (N, 3)`` rows ``(batch index, start, end)`` in steps -> ``(N, C, bins)``:
    each bin's centre sampled by linear interpolation (align_corners=False convention)."""

    def __init__(self, bins: int, ratio: int = 0) -> None:
        super().__init__()
        self.bins = int(bins)

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        T = features.shape[2]
        idx, start, end = rois[:, 0].long(), rois[:, 1:2], rois[:, 2:3]
        frac = (torch.arange(self.bins, device=rois.device, dtype=rois.dtype) + 0.5) / self.bins
        pos = (start + (end - start) * frac - 0.5).clamp(0, T - 1)  # (N, bins)
        lo = pos.floor().long()
        hi = (lo + 1).clamp(max=T - 1)
        w = (pos - lo).to(features.dtype)[:, :, None]  # (N, bins, 1)
        steps = features.transpose(1, 2)  # (B, T, C) view: each sample reads one row, no per-query copy
        out = steps[idx[:, None], lo] * (1 - w) + steps[idx[:, None], hi] * w  # (N, bins, C)
        return out.transpose(1, 2).contiguous()  # (N, C, bins), as the kernel returns (TadTR views it)


def _easydict_module() -> types.ModuleType:
    class EasyDict(dict):
        __getattr__ = dict.__getitem__

        def __setattr__(self, key, value):
            self[key] = value

    mod = types.ModuleType('easydict')
    mod.EasyDict = EasyDict
    return mod


@dataclass
class TadTRBench:
    """TadTR's model, criterion (weights applied by :meth:`loss`) and optimizer as in its ``main.py``."""
    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    clip_max_norm: float
    nested_tensor: type

    def loss(self, feats: torch.Tensor, mask: torch.Tensor, targets: list) -> torch.Tensor:
        """``feats (B, C, T)``, ``mask (B, T)`` True = padding, ``targets`` TadTR dicts -> weighted loss."""
        out = self.model(self.nested_tensor(feats, mask))
        losses = self.criterion(out, targets)
        w = self.criterion.weight_dict
        return sum(losses[k] * w[k] for k in losses if k in w)

    def train_step(self, feats: torch.Tensor, mask: torch.Tensor, targets: list) -> float:
        self.model.train()
        loss = self.loss(feats, mask, targets)
        self.optimizer.zero_grad()
        loss.backward()
        if self.clip_max_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_max_norm)
        self.optimizer.step()
        return float(loss.detach())

    @torch.no_grad()
    def predict(self, feats: torch.Tensor, mask: torch.Tensor) -> dict:
        self.model.eval()
        return self.model(self.nested_tensor(feats, mask))


def load_tadtr(path: str, overrides: Optional[dict] = None, device: str = 'cpu', seed: int = 0) -> TadTRBench:
    """Build TadTR (THUMOS14 settings unless ``overrides``) from the checkout at ``path``."""
    root = Path(path).resolve()
    if not (root / 'models' / 'tadtr.py').is_file() or not (root / 'opts.py').is_file():
        raise FileNotFoundError(f'--tadtr {path}: not a TadTR checkout (no models/tadtr.py and opts.py there)')
    clash = [m for m in ('models', 'util', 'opts') if m in sys.modules
             and not str(getattr(sys.modules[m], '__file__', '') or '').startswith(str(root))]
    if clash:
        raise RuntimeError(f'cannot import TadTR from {root}: modules {clash} are already imported from elsewhere')
    try:
        import easydict  # noqa: F401
    except ImportError:
        sys.modules['easydict'] = _easydict_module()
    roi = types.ModuleType('models.ops.roi_align')
    roi.ROIAlign = RoIAlign1d
    sys.modules['models.ops.roi_align'] = roi
    sys.path.insert(0, str(root))
    try:
        from opts import cfg
        cfg.update(THUMOS14_TADTR, **(overrides or {}))
        from models import build_model
        from util.misc import NestedTensor
        tadtr_module = sys.modules['models.tadtr']
        if not hasattr(tadtr_module, 'ROIAlign'):  # first imported with disable_cuda, which skips that import
            tadtr_module.ROIAlign = RoIAlign1d
        torch.manual_seed(seed)
        model, criterion, _ = build_model(cfg)
    finally:
        sys.path.remove(str(root))
    model.to(device)
    criterion.to(device)

    def is_proj(name: str) -> bool:
        return any(k in name for k in cfg.lr_linear_proj_names)

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [dict(params=[p for n, p in params if not is_proj(n)], lr=cfg.lr),
              dict(params=[p for n, p in params if is_proj(n)], lr=cfg.lr * cfg.lr_linear_proj_mult)]
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return TadTRBench(model, criterion, optimizer, float(cfg.clip_max_norm), NestedTensor)


def tadtr_targets(data_samples: list, device: str = 'cpu') -> list:
    """zeetad data samples (``gt_segments`` start/end in [0, 1], ``gt_labels``) -> TadTR targets
    (``segments`` centre/width, ``labels``)."""
    from zeetad.structures.segments import segment_t1t2_to_cw
    return [dict(segments=segment_t1t2_to_cw(s['gt_segments'].to(device)), labels=s['gt_labels'].to(device))
            for s in data_samples]
