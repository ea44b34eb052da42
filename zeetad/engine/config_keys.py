"""The vocabulary of a config's top level, shared by the config checks and the config reader."""
from __future__ import annotations

from .signatures import accepted_keys

__all__ = ['ConfigError', 'RUNNER_EXTRA', 'LEGACY_KEYS', 'top_level_keys', 'contains']


class ConfigError(ValueError):
    """Problems in a config, one per line, each starting with its key path."""


# Top-level keys the Runner (or zeetad's tools) read, besides the Runner's own arguments.
RUNNER_EXTRA = {'model_wrapper_cfg', 'find_unused_parameters', 'sync_bn', 'runner_type', 'custom_imports',
                 'activation_checkpointing', 'efficient_conv_bn_eval', 'gpu_ids', 'amp_dtype'}


# Top-level keys zeetad itself reads (tools/detect.py, the ZEAL tools, the split propagation).
_ZEETAD_TOP = {'split', 'loc_stream', 'synthetic_noise', 'queries_llm', 'launcher', 'work_dir', 'default_scope'}
# MMCV 1.x keys that mmengine ignores without a word, with what replaces them.
LEGACY_KEYS = {
    'optimizer_config': 'optim_wrapper (clip_grad, accumulative_counts)', 'lr_config': 'param_scheduler',
    'momentum_config': 'param_scheduler', 'checkpoint_config': 'default_hooks.checkpoint',
    'log_config': 'default_hooks.logger', 'runner': 'train_cfg (type, max_epochs)',
    'total_epochs': 'train_cfg.max_epochs', 'evaluation': 'train_cfg.val_interval and val_evaluator',
    'workflow': 'train_cfg and val_cfg', 'data': 'train_dataloader, val_dataloader and test_dataloader',
    'optimizer': 'optim_wrapper.optimizer', 'dist_params': 'env_cfg.dist_cfg',
    'fp16': "optim_wrapper.type='AmpOptimWrapper' (or --amp)"}


def top_level_keys() -> set:
    """Top-level keys something reads: the Runner's arguments, keys it reads besides, and zeetad's own."""
    from mmengine.runner import Runner
    return set(accepted_keys(Runner)) | RUNNER_EXTRA | _ZEETAD_TOP


def contains(value, target) -> bool:
    """``target`` occurs in ``value``: equal, or a dict holding all of a dict ``target``'s items (merged into)."""
    if value is target or (type(value) is type(target) and value == target):
        return True
    if isinstance(target, dict) and target and isinstance(value, dict) and \
            all(k in value and value[k] == v for k, v in target.items()):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return any(contains(v, target) for v in items)
