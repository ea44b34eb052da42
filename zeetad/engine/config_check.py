"""Fail before training starts, naming the config key: unknown types, typo'd keys, missing paths, dim mismatches.

mmengine builds components lazily (the test set only when testing, the optimizer when training starts) and its
errors name a class, not the config key (``ZEETAD.__init__() got an unexpected keyword argument``). This walks
the config once up front and reports every problem with its key path, e.g.
``model.localizer.transformer: unknown key 'nheads' for DeformableTransformer1D (did you mean 'nhead'?)``.
"""
from __future__ import annotations

import difflib
import inspect
import os
import os.path as osp
from typing import Iterable, List, Optional

from mmengine import registry as mm

from zeetad import registry as zr

# Keys that mmengine pops from a component's config before calling the constructor.
_CONSUMED = {'optim_wrapper': {'paramwise_cfg', 'constructor'}, 'param_scheduler': {'convert_to_iter_based'}}
_PLAIN_KEYS = {
    'randomness': {'seed', 'diff_rank_seed', 'deterministic'},
    'auto_scale_lr': {'enable', 'base_batch_size'},
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
}
# Top-level keys the Runner (or zeetad's tools) read, besides the Runner's own arguments.
_RUNNER_EXTRA = {'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'runner_type', 'custom_imports',
                 'activation_checkpointing', 'efficient_conv_bn_eval', 'gpu_ids', 'amp_dtype'}


class ConfigError(ValueError):
    """Problems in a config, one per line, each starting with its key path."""


def _close(name: str, options: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.75)
    return f" (did you mean '{match[0]}'?)" if match else ''


def accepted_keys(obj) -> Optional[set]:
    """Keyword arguments ``obj`` (class or function) accepts; ``None`` when it takes arbitrary ones.

    A class whose ``__init__`` takes ``**kwargs`` is assumed to pass them on to its base classes (followed
    along the MRO until an ``__init__`` without ``**kwargs``).
    """
    keys: set = set()
    if not inspect.isclass(obj):
        try:
            params = inspect.signature(obj).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind is not p.VAR_POSITIONAL}
    for klass in obj.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            return None
        try:
            params = list(inspect.signature(init).parameters.values())[1:]
        except (TypeError, ValueError):
            return None
        keys.update(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return keys
    return None


class _Checker:
    def __init__(self) -> None:
        self.errors: List[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f'{path}: {message}')

    def component(self, cfg, path: str, registry, consumed: Iterable[str] = (), children=None) -> None:
        """Check ``cfg`` (a dict with ``type``) against ``registry``; ``children(key, value, path)`` recurses."""
        if not isinstance(cfg, dict):
            return
        kind = cfg.get('type')
        if kind is None:
            return
        obj = kind if not isinstance(kind, str) else registry.get(kind)
        if obj is None:
            names = set(registry.module_dict) | set(getattr(registry.parent, 'module_dict', {}) or {})
            self.error(f'{path}.type', f"unknown type '{kind}' in the {registry.name} registry{_close(kind, names)}")
            return
        keys = accepted_keys(obj)
        if keys is not None:
            keys |= set(consumed)
            name = getattr(obj, '__name__', str(kind))
            for key in cfg:
                if key not in keys and key != 'type' and not key.startswith('_'):
                    self.error(path, f"unknown key '{key}' for {name}{_close(key, keys)}")
        if children is not None:
            for key, value in cfg.items():
                children(key, value, f'{path}.{key}')

    # ---- sections ----------------------------------------------------------
    def model(self, key, value, path) -> None:
        if key == 'init_cfg':
            return
        for i, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
            if isinstance(item, dict):
                sub = path if i is None else f'{path}[{i}]'
                if 'type' in item:
                    self.component(item, sub, zr.MODELS, children=self.model)
                else:  # plain option dicts may still hold components
                    for k, v in item.items():
                        self.model(k, v, f'{sub}.{k}')

    def dataset(self, key, value, path) -> None:
        if key == 'pipeline' and isinstance(value, list):
            for i, step in enumerate(value):
                self.component(step, f'{path}[{i}]', zr.TRANSFORMS)
        elif key == 'dataset':
            self.component(value, path, zr.DATASETS, children=self.dataset)
        elif key == 'datasets' and isinstance(value, list):
            for i, item in enumerate(value):
                self.component(item, f'{path}[{i}]', zr.DATASETS, children=self.dataset)

    def dataloader(self, cfg, path) -> None:
        from torch.utils.data import DataLoader
        if not isinstance(cfg, dict):
            return
        keys = accepted_keys(DataLoader)
        for key, value in cfg.items():
            if key not in keys:
                self.error(path, f"unknown key '{key}' for DataLoader{_close(key, keys)}")
            elif key in ('sampler', 'batch_sampler'):
                self.component(value, f'{path}.{key}', zr.DATA_SAMPLERS)
            elif key == 'collate_fn':
                self.component(value, f'{path}.{key}', zr.FUNCTIONS)
            elif key == 'dataset':
                self.component(value, f'{path}.dataset', zr.DATASETS, children=self.dataset)

    def many(self, value, path, registry, consumed=(), children=None) -> None:
        items = value if isinstance(value, (list, tuple)) else [value]
        for i, item in enumerate(items):
            sub = f'{path}[{i}]' if isinstance(value, (list, tuple)) else path
            self.component(item, sub, registry, consumed, children)

    def evaluator(self, value, path) -> None:
        if isinstance(value, dict) and value.get('type') == 'Evaluator':
            value, path = value.get('metrics'), f'{path}.metrics'
        self.many(value, path, zr.METRICS)

    def loop(self, value, path, default: Optional[str]) -> None:
        if not isinstance(value, dict):
            return
        if 'type' not in value:
            if default is None:  # train_cfg with by_epoch: mmengine picks the loop
                kind = 'EpochBasedTrainLoop' if value.get('by_epoch', True) else 'IterBasedTrainLoop'
                value = {k: v for k, v in value.items() if k != 'by_epoch'}
            else:
                kind = default
            value = dict(value, type=kind)
        self.component(value, path, zr.LOOPS)


def _check_structure(cfg, check: _Checker) -> None:
    from mmengine.runner import Runner
    known = set(accepted_keys(Runner)) | _RUNNER_EXTRA
    for key in cfg.keys():
        if key not in known:
            match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.85)
            if match:
                check.error(key, f"not a runner key (did you mean '{match[0]}'?)")
    if cfg.get('model') is not None:
        check.component(cfg.model, 'model', zr.MODELS, children=check.model)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        check.dataloader(cfg.get(loader), loader)
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key) is not None:
            check.evaluator(cfg.get(key), key)
    wrapper = cfg.get('optim_wrapper')
    if isinstance(wrapper, dict):
        check.component(dict(wrapper, type=wrapper.get('type', 'OptimWrapper')), 'optim_wrapper', zr.OPTIM_WRAPPERS,
                        _CONSUMED['optim_wrapper'])
        check.component(wrapper.get('optimizer'), 'optim_wrapper.optimizer', mm.OPTIMIZERS, ('params',))
    if cfg.get('param_scheduler') is not None:
        check.many(cfg.param_scheduler, 'param_scheduler', mm.PARAM_SCHEDULERS, _CONSUMED['param_scheduler'])
    for name, hook in (cfg.get('default_hooks') or {}).items():
        check.component(hook, f'default_hooks.{name}', zr.HOOKS)
    if cfg.get('custom_hooks'):
        check.many(cfg.custom_hooks, 'custom_hooks', zr.HOOKS)
    check.loop(cfg.get('train_cfg'), 'train_cfg', None)
    check.loop(cfg.get('val_cfg'), 'val_cfg', 'ValLoop')
    check.loop(cfg.get('test_cfg'), 'test_cfg', 'TestLoop')
    for key, allowed in _PLAIN_KEYS.items():
        for sub in (cfg.get(key) or {}):
            if sub not in allowed:
                check.error(key, f"unknown key '{sub}'{_close(sub, allowed)}")


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
    import numpy as np
    fmt = spec.get('format', 'npy')
    if fmt == 'npy' and spec.get('root') and osp.isdir(spec['root']):
        suffix = spec.get('suffix', '.npy')
        for name in sorted(os.listdir(spec['root'])):
            if name.endswith(suffix) and name.startswith(spec.get('prefix', '') or ''):
                return int(np.load(osp.join(spec['root'], name), mmap_mode='r').shape[-1])
    if fmt in ('hdf5', 'h5') and spec.get('path') and osp.isfile(spec['path']):
        import h5py
        with h5py.File(spec['path'], 'r') as f:
            for name in f:
                if hasattr(f[name], 'shape'):
                    return int(f[name].shape[-1])
    return None


def _check_data(cfg, stage: str, check: _Checker) -> None:
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
                if dim is not None and model_dim is not None and int(model_dim) != int(dim):
                    check.error(model_path, f'{model_dim} does not match {path}.{stream}.dim={dim}')
            stored = _feature_dim_on_disk(spec)
            if stored is not None and dim is not None and stored != int(dim):
                check.error(f'{path}.{stream}.dim', f'{dim} but the stored features have dim {stored}')


def _looks_like_path(value) -> bool:
    if not isinstance(value, str) or '://' in value or value.startswith('hf-hub:'):
        return False
    return os.sep in value or value.endswith(('.pt', '.pth', '.bin', '.safetensors', '.json'))


def _check_files(cfg, stage: str, check: _Checker) -> None:
    for key in ('pretrained', 'model_config_file'):
        for path, value in _find(cfg.get('model'), key):
            if _looks_like_path(value) and not osp.exists(value):
                check.error(path, f'file not found: {value}')
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and '://' not in load_from and not osp.isfile(load_from):
        check.error('load_from', f'checkpoint not found: {load_from}')


def validate_config(cfg, stage: str = 'train') -> None:
    """Raise :class:`ConfigError` listing every problem found in ``cfg`` (key path first).

    ``stage`` (``'train'`` or ``'test'``) selects which datasets' files must exist.
    """
    if stage not in ('train', 'test'):
        raise ValueError(f"stage must be 'train' or 'test', got {stage!r}")
    import zeetad.datasets  # noqa: F401  (register the components so that unknown names are really unknown)
    import zeetad.engine  # noqa: F401
    import zeetad.evaluation.tad_metric  # noqa: F401
    import zeetad.models  # noqa: F401
    check = _Checker()
    _check_structure(cfg, check)
    _check_data(cfg, stage, check)
    _check_files(cfg, stage, check)
    if check.errors:
        raise ConfigError('invalid config:\n  ' + '\n  '.join(check.errors))
