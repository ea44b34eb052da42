"""Never train on NaN: skip the update of a non-finite loss, then stop (or go on) naming the loss term.

Two halves, because mmengine hands the optimizer wrapper only the summed loss while hooks see the named terms:

* :class:`GuardedOptimWrapper` (and the AMP variant) checks the loss before ``backward``; when it is not finite
  on any rank it drops the whole update, so the weights never see a NaN gradient. Every rank takes the same
  decision (one all-reduced flag), otherwise DDP would hang in the backward of the ranks that went on.
* :class:`NonFiniteLossHook` then reads the named loss terms of that iteration and raises
  ``FloatingPointError`` naming the iteration and the terms (``action='raise'``, the default), or logs and
  continues (``action='skip'``) up to ``max_consecutive`` skipped iterations.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from mmengine.dist import all_gather_object, get_dist_info, get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper

from zeetad.registry import HOOKS, OPTIM_WRAPPERS


def _any_rank(flag: bool, device: torch.device) -> bool:
    """True when ``flag`` is set on any rank (one all-reduce of a scalar)."""
    _, world_size = get_dist_info()
    if world_size == 1:
        return flag
    value = torch.tensor([float(flag)], device=device)
    torch.distributed.all_reduce(value)
    return bool(value.item() > 0)


class _NonFiniteGuard:
    """Mixin for :class:`OptimWrapper` subclasses: skip the update of a non-finite loss."""

    def _init_guard(self) -> None:
        self.skipped_last = False   # read by NonFiniteLossHook
        self.num_skipped = 0

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[dict] = None,
                      zero_kwargs: Optional[dict] = None) -> None:
        bad = _any_rank(not bool(torch.isfinite(loss.detach()).all()), loss.device)
        self.skipped_last = bad
        if not bad:
            super().update_params(loss, step_kwargs, zero_kwargs)
            return
        self.num_skipped += 1
        # Count the micro-step as done so gradient accumulation stays aligned, and drop what was accumulated:
        # the group's update would otherwise mix in an unknown share of the bad batch's neighbours.
        self._inner_count += 1
        self.zero_grad(**(zero_kwargs or {}))


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(_NonFiniteGuard, OptimWrapper):
    """:class:`mmengine.optim.OptimWrapper` that skips updates whose loss is NaN or infinite."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_guard()


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(_NonFiniteGuard, AmpOptimWrapper):
    """:class:`mmengine.optim.AmpOptimWrapper` (CUDA) that skips updates whose loss is NaN or infinite.

    Loss scaling still skips steps with overflowing *gradients* on its own; this guard covers the loss itself.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._init_guard()


def _non_finite_terms(outputs) -> dict:
    """``{name: value}`` of the non-finite loss terms in a train step's log variables."""
    terms = {}
    for name, value in (outputs or {}).items():
        if 'loss' not in name:  # as mmengine's parse_losses: other log variables are not optimised
            continue
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                continue
            value = value.detach()
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            terms[name] = value
    return terms


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop (or log and go on) when an iteration's loss is NaN or infinite, naming the iteration and terms.

    Args:
        action: ``'raise'`` stops with ``FloatingPointError``; ``'skip'`` logs a warning and continues (the
            update itself was already dropped by :class:`GuardedOptimWrapper`).
        max_consecutive: with ``'skip'``, raise after this many non-finite iterations in a row.
    """

    # Before CheckpointHook (VERY_LOW), so the iteration that failed never gets a checkpoint.
    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'raise', max_consecutive: int = 10) -> None:
        if action not in ('raise', 'skip'):
            raise ValueError(f"NonFiniteLossHook.action must be 'raise' or 'skip', got {action!r}")
        self.action = action
        self.max_consecutive = int(max_consecutive)
        self.consecutive = 0
        self.total = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[dict] = None) -> None:
        local = _non_finite_terms(outputs)
        wrapper = runner.optim_wrapper
        guarded = isinstance(wrapper, _NonFiniteGuard)
        if not (wrapper.skipped_last if guarded else local):
            self.consecutive = 0
            return
        _, world_size = get_dist_info()
        per_rank = all_gather_object(local) if guarded and world_size > 1 else [local]
        terms = {}
        for rank, found in enumerate(per_rank):
            for name, value in found.items():
                terms.setdefault(name, []).append(f'{value}' + (f' on rank {rank}' if world_size > 1 else ''))
        named = ', '.join(f'{name}={"/".join(v)}' for name, v in terms.items()) or 'the summed loss'
        where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}, batch {batch_idx + 1})'
        applied = 'the update was skipped' if guarded else 'the update was already applied (optim_wrapper ' \
                  f'{type(wrapper).__name__} is not guarded)'
        self.consecutive += 1
        self.total += 1
        if self.action == 'raise' or self.consecutive > self.max_consecutive or not guarded:
            raise FloatingPointError(
                f'non-finite loss at {where}: {named}; {applied}. Lower the learning rate, check the inputs of '
                f'that batch, or set custom_hooks NonFiniteLossHook action="skip" to skip such iterations.')
        if get_rank() == 0:
            print_log(f'non-finite loss at {where}: {named}; update skipped ({self.consecutive} in a row, '
                      f'{self.total} in total)', logger='current', level=30)
