"""Building a ZEETAD model from a config for benchmarks, without any download, and feeding it synthetic windows.

The text tower is either the configured open_clip architecture with random weights (``pretrained=None``:
same size and speed as the real one) or the tiny random CLIP saved to a temporary checkpoint.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from ..harness import no_network, sync

__all__ = ['THUMOS14_CONFIG', 'load_config', 'model_cfg_for_benchmark', 'build_model', 'BuiltModel',
           'split_classes', 'synthetic_windows', 'train_step_phases', 'build_optim_wrapper', 'count_parameters',
           'static_memory_mib', 'parameter_rows', 'video_windows']

# Found through the package (zeetad.utils.resources) when not under the working directory, as tools/test.py does.
THUMOS14_CONFIG = 'configs/zeetad/zeetad_thumos14_i3d_clip.py'


def load_config(path: str = THUMOS14_CONFIG):
    """The mmengine ``Config`` of a config file; ``configs/...`` falls back to the copy shipped with zeetad."""
    from mmengine.config import Config
    from zeetad.utils.resources import resolve_config_path
    resolved = resolve_config_path(path)
    if not os.path.isfile(resolved):
        raise FileNotFoundError(f'config not found: {path}')
    return Config.fromfile(resolved)


def model_cfg_for_benchmark(cfg, text: str = 'random', tmp_dir: Optional[str] = None) -> dict:
    """The config's ``model`` with a text tower that needs no download.

    ``text='random'``: the configured open_clip architecture (e.g. ViT-B-16) randomly initialised;
    ``text='tiny'``: the tiny random CLIP, saved under ``tmp_dir`` and loaded through ``pretrained=PATH``.
    Adapters and everything else stay as configured.
    """
    model = copy.deepcopy(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model))
    enc = dict(model['classifier']['text_encoder'])
    if text == 'random':
        enc['pretrained'] = None
    elif text == 'tiny':
        from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, make_random_clip_checkpoint
        if tmp_dir is None:
            raise ValueError('text="tiny" needs tmp_dir for the checkpoint')
        ckpt = make_random_clip_checkpoint(os.path.join(tmp_dir, 'tiny_clip.pt'))
        enc.update(model_name=None, model_config_file=TINY_CLIP_CONFIG, pretrained=ckpt)
        enc['num_adapter_blocks'] = min(int(enc.get('num_adapter_blocks', 0)), 4)  # the tiny tower has 4 blocks
    else:
        raise ValueError(f'text must be "random" or "tiny", got {text!r}')
    model['classifier']['text_encoder'] = enc
    return model


@dataclass
class BuiltModel:
    model: torch.nn.Module
    build_s: float
    network_attempts: list


def build_model(model_cfg: dict, device: str = 'cpu', seed: int = 0) -> BuiltModel:
    """Build on ``device`` with sockets and DNS refused (any download attempt raises ``NetworkBlocked``)."""
    import zeetad.models  # noqa: F401  (registers the components)
    from zeetad.registry import MODELS
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with no_network() as attempts:
        model = MODELS.build(copy.deepcopy(model_cfg))
    build_s = time.perf_counter() - t0
    return BuiltModel(model.to(device), build_s, list(attempts))


def split_classes(cfg, part: str = 'train', fallback: int = 15) -> list:
    """Seen (``part='train'``) or unseen (``'test'``) class names of the config's zero-shot split;
    ``fallback`` generic names if the split files cannot be read. A relative ``split.root`` is read from the
    working directory, as the datasets read it."""
    split = dict(cfg.get('split') or {})
    try:
        from zeetad.datasets.splits import split_files
        files = split_files(split['root'], split['dataset'], int(split['ratio']), int(split['index']))
        names = [line.strip() for line in files[part == 'test'].read_text().splitlines() if line.strip()]
        if names:
            return names
    except (KeyError, OSError, ValueError):
        pass
    return [f'action {i}' for i in range(fallback)]


def synthetic_windows(batch: int, length: int, loc_dim: int, clip_dim: Optional[int], classes: Sequence[str],
                      seed: int = 0, max_instances: int = 3, step_s: float = 4 / 30,
                      lengths: Optional[Sequence[int]] = None) -> dict:
    """A collated batch (``tad_collate`` format) of random windows with 1..``max_instances`` instances each.

    ``inputs[i]['loc'] (length, loc_dim)``, ``['clip'] (length, clip_dim)`` (unit-norm rows);
    segments are normalised to the window as the dataset makes them. ``lengths`` gives each window its own
    length (the batch is then ``len(lengths)``; shorter windows are padded by the preprocessor).
    """
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    lengths = [length] * batch if lengths is None else list(lengths)
    inputs, samples = [], []
    for b, length in enumerate(lengths):
        loc = torch.randn(length, loc_dim, generator=gen)
        clip = None
        if clip_dim:
            clip = torch.nn.functional.normalize(torch.randn(length, clip_dim, generator=gen), dim=-1)
        n = int(rng.integers(1, max_instances + 1))
        starts = rng.uniform(0.0, 0.8, n)
        ends = np.minimum(1.0, starts + rng.uniform(0.03, 0.2, n))
        span = length * step_s
        samples.append(dict(
            video_id=f'synthetic_{seed}_{b}', duration=span, fps=30.0, begin_s=0.0, span_s=span, window=(0, length),
            classes=tuple(classes), valid_len=length,
            gt_segments=torch.as_tensor(np.stack([starts, ends], 1), dtype=torch.float32),
            gt_labels=torch.as_tensor(rng.integers(0, len(classes), n), dtype=torch.long)))
        inputs.append(dict(loc=loc, clip=clip))
    return dict(inputs=inputs, data_samples=samples)


def build_optim_wrapper(model: torch.nn.Module, cfg):
    """The config's ``optim_wrapper`` (AdamW, per-key lr multipliers, gradient clipping) for ``model``."""
    import logging

    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper as _build

    import zeetad.engine  # noqa: F401  (zeetad's optimizer wrapper registrations, if any)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # paramwise_cfg otherwise logs a line per frozen or multiplied parameter
    try:
        return _build(model, copy.deepcopy(cfg.optim_wrapper))
    finally:
        logger.setLevel(level)


def train_step_phases(model, optim_wrapper, batch: dict, device: str = 'cpu') -> dict:
    """One training step, timed by phase (seconds): ``preprocess``, ``forward`` (incl. losses and matching),
    ``backward``, ``optimizer`` (gradient clipping + AdamW + zero_grad), ``total``."""
    sync(device)
    t0 = time.perf_counter()
    data = model.data_preprocessor(batch, True)
    sync(device)
    t1 = time.perf_counter()
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    sync(device)
    t2 = time.perf_counter()
    optim_wrapper.backward(loss)
    sync(device)
    t3 = time.perf_counter()
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    sync(device)
    t4 = time.perf_counter()
    return dict(preprocess=t1 - t0, forward=t2 - t1, backward=t3 - t2, optimizer=t4 - t3, total=t4 - t0,
                loss=float(loss.detach()))


def count_parameters(module: torch.nn.Module) -> tuple[int, int]:
    """``(total, trainable)`` parameter counts (shared parameters counted once)."""
    seen, total, trainable = set(), 0, 0
    for p in module.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def static_memory_mib(model: torch.nn.Module, optimizer_states: int = 2) -> dict:
    """MiB held between steps: parameters, gradients of the trainable ones, and ``optimizer_states`` tensors
    per trainable parameter (AdamW: exp_avg and exp_avg_sq)."""
    params = {id(p): p for p in model.parameters()}.values()
    total = sum(p.numel() * p.element_size() for p in params) / 2**20
    trainable = sum(p.numel() * p.element_size() for p in params if p.requires_grad) / 2**20
    out = dict(parameters=total, gradients=trainable, optimizer=optimizer_states * trainable)
    out['total'] = sum(out.values())
    return out


def parameter_rows(model) -> list[tuple[str, int, int]]:
    """``(part, total, trainable)`` for the main parts of a ZEETAD model, then the whole model."""
    loc, cls = model.localizer, model.classifier
    enc = cls.text_encoder
    tr = loc.transformer
    parts = [
        ('localizer: input projections', [loc.loc_proj, loc.clip_proj, loc.downsample]),
        ('localizer: deformable encoder + level embeddings', [tr.encoder, tr.encoder_norm, tr.level_embed]),
        ('localizer: deformable decoder + heads', [tr.decoder, tr.decoder_norm, tr.segment_heads, tr.query_embed,
                                                   tr.reference_head]),
        ('localizer: actionness head', [loc.actionness]),
        ('classifier: text tower (open_clip)', [getattr(enc, 'tower', None)]),
        ('classifier: text adapters', [getattr(enc, 'adapters', None)]),
        ('classifier: projection + scale/bias', [cls.proj, cls.log_logit_scale, cls.logit_bias]),
    ]
    rows = []
    for name, members in parts:
        holder = torch.nn.ParameterList([m for m in members if isinstance(m, torch.nn.Parameter)])
        modules = torch.nn.ModuleList([m for m in members if isinstance(m, torch.nn.Module)] + [holder])
        rows.append((name, *count_parameters(modules)))
    rows.append(('total', *count_parameters(model)))
    return rows


def video_windows(ann_file: str, subset: str = 'Test', stride: int = 4, window: int = 16,
                  size: int = 128, overlap: float = 0.25) -> list[tuple[str, float, int, int]]:
    """``(video_id, duration_s, num_features, num_windows)`` per video of ``subset``, on a snippet grid of
    ``window``-frame snippets every ``stride`` frames (I3D: 16 / 4) at each video's fps."""
    from zeetad.datasets.annotations import load_annotations
    from zeetad.datasets.timebase import make_timebase
    from zeetad.datasets.windows import enumerate_windows
    rows = []
    for rec in load_annotations(ann_file):
        if rec.subset.lower() != subset.lower():
            continue
        tb = make_timebase(dict(stride=stride, window=window, fps=None), rec.fps or 30.0)
        num = max(1, tb.num_features(rec.duration))
        rows.append((rec.video_id, rec.duration, num, len(enumerate_windows(num, size, overlap))))
    return rows
