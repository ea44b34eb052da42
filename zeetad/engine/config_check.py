"""Fail before training starts, naming the config key: unknown types, typo'd keys, missing paths, dim mismatches.

mmengine builds components lazily (the test set only when testing, the optimizer when training starts) and its
errors name a class, not the config key (``ZEETAD.__init__() got an unexpected keyword argument``). This walks
the config once up front and reports every problem with its key path, e.g.
``model.localizer.transformer: unknown key 'nheads' for DeformableTransformer1D (did you mean 'nhead'?)``.
Besides each component's keyword names it checks strings given where a number or bool is expected (from the
signature), the nested plain dicts a component declares through a ``config_problems(cfg, key)`` static
method (``TADDataset``: split, feature streams, time bases), and runs each metric's post-processing once.
"""
from __future__ import annotations

import difflib
from typing import Iterable, List, Optional

from mmengine import registry as mm

from zeetad import registry as zr
from zeetad.utils.suggest import did_you_mean
from .config_keys import LEGACY_KEYS, ConfigError, contains, top_level_keys
from .signatures import accepted_keys, value_kinds

# Keys that mmengine pops from a component's config before calling the constructor.
_CONSUMED = {'optim_wrapper': {'paramwise_cfg', 'constructor'}, 'param_scheduler': {'convert_to_iter_based'}}
_PLAIN_KEYS = {
    'randomness': {'seed', 'diff_rank_seed', 'deterministic'},
    'auto_scale_lr': {'enable', 'base_batch_size'},
    'env_cfg': {'cudnn_benchmark', 'mp_cfg', 'dist_cfg', 'resource_limit'},
}
def _close(name: str, options: Iterable[str]) -> str:
    return did_you_mean(name, options)


class _Checker:
    def __init__(self) -> None:
        self.errors: List[str] = []
        self.typed: List[str] = []  # key paths already reported as ill-typed

    def error(self, path: str, message: str) -> None:
        self.errors.append(f'{path}: {message}')

    def kinds(self, cfg: dict, path: str, kinds: dict) -> None:
        """A string where a number or True/False is expected (``batch_size='16'``, ``lr='1e-4'``).

        mmengine passes such values on, and they fail deep inside (or, for booleans, ``'False'`` is true).
        """
        for key, kind in kinds.items():
            value = cfg.get(key)
            if isinstance(value, str):
                expected = 'a number' if kind == 'number' else 'True or False'
                self.error(f'{path}.{key}', f'expected {expected}, got the string {value!r}')
                self.typed.append(f'{path}.{key}:')

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
        name = getattr(obj, '__name__', str(kind))
        if keys is not None:
            keys |= set(consumed)
            for key in cfg:
                if key not in keys and key != 'type' and not key.startswith('_'):
                    self.error(path, f"unknown key '{key}' for {name}{_close(key, keys)}")
        self.kinds(cfg, path, value_kinds(obj))
        own = getattr(obj, 'config_problems', None)  # nested plain dicts the component knows (splits, NMS ...)
        if callable(own):
            for problem in own(cfg, path):
                if not any(problem.startswith(done) for done in self.typed):
                    self.errors.append(problem)
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
        kinds = value_kinds(DataLoader)
        if cfg.get('num_workers') == 'auto':  # resolved by load_config (runner_setup.loader_workers)
            kinds.pop('num_workers', None)
        self.kinds(cfg, path, kinds)
        for key, low in (('batch_size', 1), ('num_workers', 0)):  # torch's own message names no config key
            value = cfg.get(key)
            if value is not None and not isinstance(value, str) and (
                    isinstance(value, bool) or not isinstance(value, int) or value < low):
                self.error(f'{path}.{key}', f'must be an integer >= {low}, got {value!r}')
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
        for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            sub = f'{path}[{i}]' if isinstance(value, (list, tuple)) else path
            if isinstance(item, dict) and not any(e.startswith(sub) for e in self.errors):
                self.postprocess(item, sub)

    def postprocess(self, cfg: dict, path: str) -> None:
        """Build the metric and run its post-processing (Soft-NMS included) once on two dummy segments.

        Otherwise an NMS option typo (``nms=dict(sigam=0.5)``, ``method='gausian'``) surfaces only at the
        first validation, after a whole training run.
        """
        import numpy as np

        from zeetad.evaluation.soft_nms import SoftNMSParams
        try:
            metric = zr.METRICS.build(dict(cfg))
        except Exception as exc:  # noqa: BLE001 - reported with its key instead of a traceback
            self.error(path, f'cannot build {cfg.get("type")}: {type(exc).__name__}: {exc}')
            return
        nms = getattr(metric, 'nms', None)
        if not isinstance(nms, dict):
            return
        keys = accepted_keys(SoftNMSParams)
        unknown = [k for k in nms if k not in keys]
        for key in unknown:
            self.error(f'{path}.nms', f"unknown key '{key}'{_close(key, keys)}; expected one of {sorted(keys)}")
        if unknown:
            return
        if not callable(getattr(metric, 'merge', None)):
            return
        window = dict(video_id='v', segments=np.array([[0.0, 2.0], [1.0, 3.0]]), scores=np.array([0.9, 0.8]),
                      labels=np.array([0, 0]))
        try:
            metric.merge([window])  # the post-processing of every validation: top-k, Soft-NMS, cap per video
        except Exception as exc:  # noqa: BLE001
            self.error(path, f'post-processing fails (nms={nms}): {type(exc).__name__}: {exc}')

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
    known = top_level_keys()
    for key in cfg.keys():
        if key in LEGACY_KEYS and key not in known and \
                not any(contains(v, cfg[key]) for k, v in cfg.items() if k != key):  # unless used as a variable
            check.error(key, f'an MMCV 1.x key that mmengine ignores; use {LEGACY_KEYS[key]}')
        elif key not in known:
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
        lr = (wrapper.get('optimizer') or {}).get('lr')
        if isinstance(lr, (int, float)) and not isinstance(lr, bool) and not lr >= 0:  # torch names no key
            check.error('optim_wrapper.optimizer.lr', f'must be a number >= 0, got {lr!r}')
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


def validate_config(cfg, stage: str = 'train', files: bool = True) -> None:
    """Raise :class:`ConfigError` listing every problem found in ``cfg`` (key path first).

    ``stage`` (``'train'`` or ``'test'``) selects which datasets' files must exist; ``files=False`` checks
    the structure only, no file (``tools/detect.py``: the user's videos replace the datasets, and loading the
    model reports its own files).
    """
    if stage not in ('train', 'test'):
        raise ValueError(f"stage must be 'train' or 'test', got {stage!r}")
    import zeetad.datasets  # noqa: F401  (register the components so that unknown names are really unknown)
    from . import checkpoint_hooks, nonfinite, resume, schedule  # noqa: F401  (zeetad's hooks, loops, wrappers)
    import zeetad.evaluation.tad_metric  # noqa: F401
    import zeetad.models  # noqa: F401
    check = _Checker()
    _check_structure(cfg, check)
    if files:
        from .config_files import check_data, check_files
        check_data(cfg, stage, check)
        check_files(cfg, check)
    if check.errors:
        raise ConfigError('invalid config:\n  ' + '\n  '.join(check.errors))
