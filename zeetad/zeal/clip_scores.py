"""ZEAL stages 2 and 3: CLIP frame features against class-description embeddings.

* class filtering: rank a video's candidate classes by the cosine between the
  mean CLIP feature of ``k`` evenly spaced key frames and each description;
* actionness: per-frame cosine between each frame feature and a description.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def key_frame_indices(num_frames: int, k: int) -> np.ndarray:
    """``min(k, T)`` evenly spaced frame indices over ``[0, T - 1]`` (first and last included)."""
    if num_frames < 1:
        raise ValueError('a video needs at least one frame')
    k = max(1, min(int(k), num_frames))
    return np.unique(np.round(np.linspace(0, num_frames - 1, k)).astype(np.int64))


def class_similarity(frame_feats: Tensor, text_embeds: Tensor, num_key_frames: int = 8) -> Tensor:
    """Cosine between the mean of the L2-normalised key-frame features and each description.

    Args:
        frame_feats: ``(T, D)`` CLIP frame features of one video.
        text_embeds: ``(K, D)`` description embeddings.
        num_key_frames: k evenly spaced frames (ZEAL: 8).

    Returns:
        ``(K,)`` cosine similarities.
    """
    _check_dims(frame_feats, text_embeds)
    idx = torch.as_tensor(key_frame_indices(frame_feats.shape[0], num_key_frames), device=frame_feats.device)
    mean = F.normalize(frame_feats[idx].float(), dim=-1).mean(dim=0)
    return F.normalize(mean, dim=-1) @ F.normalize(text_embeds.float(), dim=-1).T


def select_classes(similarity: Tensor, top_k: int, labels: Optional[Sequence[int]] = None) -> list[int]:
    """Indices of the kept classes: the ``top_k`` most similar (best first, lower index on ties), or the
    given ground-truth ``labels`` (sorted, duplicates removed) for ZEAL's oracle variant."""
    if labels is not None:
        return sorted({int(c) for c in labels})
    order = torch.sort(-similarity.detach().cpu().double(), stable=True).indices
    return order[:max(0, int(top_k))].tolist()


def clip_actionness(frame_feats: Tensor, text_embeds: Tensor) -> Tensor:
    """Per-frame cosine with each description: ``(T, D)``, ``(C, D)`` -> ``(C, T)``."""
    _check_dims(frame_feats, text_embeds)
    return F.normalize(text_embeds.float(), dim=-1) @ F.normalize(frame_feats.float(), dim=-1).T


def _check_dims(frame_feats: Tensor, text_embeds: Tensor) -> None:
    if frame_feats.ndim != 2 or text_embeds.ndim != 2:
        raise ValueError(f'expected frame features (T, D) and text embeddings (K, D), got '
                         f'{tuple(frame_feats.shape)} and {tuple(text_embeds.shape)}')
    if frame_feats.shape[1] != text_embeds.shape[1]:
        raise ValueError(f'CLIP frame features have dim {frame_feats.shape[1]} but the description embeddings '
                         f'have dim {text_embeds.shape[1]}: frames and text must come from the same CLIP model')
