"""The files a config names: annotation files, feature folders and files (and their feature dims), weights.

Part of :func:`~zeetad.engine.config_check.validate_config`; ``check`` is its collector (``check.error(key,
message)``).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional

from zeetad.utils.suggest import is_number


def _stage_loaders(stage: str) -> tuple:
    return ('test_dataloader',) if stage == 'test' else ('train_dataloader', 'val_dataloader')


def _datasets(cfg, stage: str):
    """``(path, dataset cfg)`` of the datasets this stage reads (through wrappers such as RepeatDataset)."""
    for loader in _stage_loaders(stage):
        dataset, path = (cfg.get(loader) or {}).get('dataset'), f'{loader}.dataset'
        while isinstance(dataset, dict) and isinstance(dataset.get('dataset'), dict):
            dataset, path = dataset['dataset'], f'{path}.dataset'
        if isinstance(dataset, dict):
            yield path, dataset


def _find(cfg, key: str, path: str = 'model'):
    """``(path, value)`` of every ``key`` inside the model config."""
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k == key:
                yield f'{path}.{k}', v
            else:
                yield from _find(v, key, f'{path}.{k}')


def _feature_dim_on_disk(spec: dict) -> Optional[int]:
    """Last dim of one stored feature array (cheap: an npy header or one HDF5 dataset's shape)."""
    from zeetad.datasets.feature_store import store_class
    try:
        cls = store_class(spec.get('format', 'npy'))
    except KeyError:
        return None  # an unknown format is reported by the stream check
    return cls.stored_dim(spec)


def check_data(cfg, stage: str, check) -> None:
    model_dims = {'loc_dim': list(_find(cfg.get('model'), 'loc_dim')),
                  'clip_dim': list(_find(cfg.get('model'), 'clip_dim'))}
    for path, dataset in _datasets(cfg, stage):
        ann = dataset.get('ann_file')
        if isinstance(ann, str) and ann and not osp.isfile(ann):
            check.error(f'{path}.ann_file', f'file not found: {ann}')
        split_root = (dataset.get('split') or {}).get('root')
        if isinstance(split_root, str) and not osp.isdir(split_root):
            check.error(f'{path}.split.root', f'folder not found: {split_root}')
        for stream, dim_key in (('loc_features', 'loc_dim'), ('clip_features', 'clip_dim')):
            spec = dataset.get(stream)
            if not isinstance(spec, dict):
                continue
            for key, exists in (('root', osp.isdir), ('path', osp.isfile)):
                if isinstance(spec.get(key), str) and not exists(spec[key]):
                    check.error(f'{path}.{stream}.{key}', f'not found: {spec[key]}')
            dim = spec.get('dim')
            for model_path, model_dim in model_dims[dim_key]:
                if is_number(dim) and is_number(model_dim) and int(model_dim) != int(dim):
                    check.error(model_path, f'{model_dim} does not match {path}.{stream}.dim={dim}')
            try:
                stored = _feature_dim_on_disk(spec)
            except ValueError as exc:
                check.error(f'{path}.{stream}', str(exc))
                continue
            if stored is not None and is_number(dim) and stored != int(dim):
                check.error(f'{path}.{stream}.dim', f'{dim} but the stored features have dim {stored}')


def _looks_like_path(value) -> bool:
    if not isinstance(value, str) or '://' in value or value.startswith('hf-hub:'):
        return False
    return os.sep in value or value.endswith(('.pt', '.pth', '.bin', '.safetensors', '.json'))


def check_files(cfg, check) -> None:
    from zeetad.utils.resources import resolve_config_path
    for key in ('pretrained', 'model_config_file'):
        for path, value in _find(cfg.get('model'), key):
            # configs/... is also found among the configs shipped with zeetad (as open_clip_loader reads it)
            found = resolve_config_path(value) if key == 'model_config_file' else value
            if _looks_like_path(value) and not osp.exists(found):
                check.error(path, f'file not found: {value}')
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and '://' not in load_from and not osp.isfile(load_from):
        check.error('load_from', f'checkpoint not found: {load_from}')
