"""Training schedules that follow the data: an explicit iteration target that sets the number of epochs.

A schedule written in epochs trains ``max_epochs x len(dataloader)`` steps, so a config inherited onto a 10x
smaller dataset silently trains 10x fewer steps. :class:`StepsTargetEpochTrainLoop` takes ``target_iters``:
the epoch count becomes ``round(target_iters / iterations per epoch)`` (at least 1), and every epoch-based
position of the schedule (``MultiStepLR`` milestones, ``begin``/``end``, ``T_max``, ``val_interval``) is scaled
by the same factor, so "decay at 14 of 16 epochs" stays "decay at 7/8 of training". It logs the schedule it
will run before the first step, and writes it to ``<work_dir>/schedule.json`` (read by
:func:`zeetad.engine.experiments.train_and_test` to find the final checkpoint).
"""
from __future__ import annotations

import copy
import json
import os.path as osp
from typing import Optional

from mmengine.dist import get_world_size, is_main_process
from mmengine.logging import print_log

from zeetad.registry import LOOPS

from .config_keys import ConfigError
from .resume import ResumableEpochBasedTrainLoop

SCHEDULE_FILE = 'schedule.json'
# Epoch positions of a by-epoch scheduler, scaled with the epoch count.
_EPOCH_FIELDS = ('begin', 'end', 'T_max', 'step_size')
_FEW_ITERS = 200  # below this a DETR-style localiser barely starts to match: say so


def resolve_epochs(target_iters: int, iters_per_epoch: int, world_size: int = 1) -> int:
    """Epochs whose total is closest to ``target_iters`` (at least one).

    ``target_iters`` counts single-process iterations: with N processes (batch size per process, each epoch
    split N ways) the same epochs, hence the same samples, are trained as on one process.
    """
    if not isinstance(target_iters, int) or isinstance(target_iters, bool) or target_iters <= 0:
        raise ConfigError(f'train_cfg.target_iters must be a positive integer number of iterations, '
                         f'got {target_iters!r}')
    if iters_per_epoch <= 0:
        raise ConfigError('train_cfg.target_iters: the training dataloader is empty (0 iterations per epoch)')
    return max(1, round(target_iters / (iters_per_epoch * world_size)))


def scale_epoch_schedulers(schedulers, factor: float, max_epochs: int):
    """Copies of the scheduler configs with their epoch positions multiplied by ``factor``.

    Only ``by_epoch`` schedulers (mmengine's default) move; iteration-based ones (warm-up) stay. A position
    equal to the configured end of training stays at the end; every scaled position is at least 1.
    """
    if schedulers is None or factor == 1.0:
        return schedulers
    single = isinstance(schedulers, dict)
    out = []
    for cfg in ([schedulers] if single else schedulers):
        if not isinstance(cfg, dict) or not cfg.get('by_epoch', True):
            out.append(cfg)
            continue
        cfg = copy.deepcopy(cfg)
        for key in _EPOCH_FIELDS:
            value = cfg.get(key)
            if isinstance(value, (int, float)) and value > 0 and value < 1e8:  # mmengine's INF end is 1e9
                cfg[key] = max(1, round(value * factor))
        if 'milestones' in cfg:
            cfg['milestones'] = sorted({min(max(1, round(m * factor)), max_epochs) for m in cfg['milestones']})
        out.append(cfg)
    return out[0] if single else out


def read_schedule(work_dir: str) -> Optional[dict]:
    """The schedule a training run in ``work_dir`` resolved (``None`` before one started)."""
    path = osp.join(work_dir, SCHEDULE_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


@LOOPS.register_module()
class StepsTargetEpochTrainLoop(ResumableEpochBasedTrainLoop):
    """Epoch loop (with exact mid-epoch resume) whose length follows ``target_iters`` when given.

    Args:
        runner, dataloader, val_begin, dynamic_intervals: as :class:`mmengine.runner.EpochBasedTrainLoop`.
        max_epochs: the epochs the schedule was written for; used as is when ``target_iters`` is ``None``.
        val_interval: validation interval in those epochs (scaled with them).
        target_iters: training iterations (of one process) to aim for; the epoch count is chosen to come
            closest. ``None``: ``max_epochs`` as written.
    """

    def __init__(self, runner, dataloader, max_epochs: int, val_begin: int = 1, val_interval: int = 1,
                 dynamic_intervals=None, target_iters: Optional[int] = None) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin=val_begin, val_interval=val_interval,
                         dynamic_intervals=dynamic_intervals)
        written = self._max_epochs
        per_epoch = len(self.dataloader)
        if target_iters is not None:
            epochs = resolve_epochs(target_iters, per_epoch, get_world_size())
            factor = epochs / written
            self._max_epochs, self._max_iters = epochs, epochs * per_epoch
            self.val_interval = max(1, round(val_interval * factor))
            self.val_begin = max(1, round(val_begin * factor))
            if dynamic_intervals is None:  # (explicit dynamic intervals stay in configured epochs)
                self.dynamic_milestones, self.dynamic_intervals = [0], [self.val_interval]
            # Still configs here: Runner.train() builds the schedulers after the loop.
            runner.param_schedulers = scale_epoch_schedulers(runner.param_schedulers, factor, epochs)
        self.schedule = dict(iters_per_epoch=per_epoch, max_epochs=self._max_epochs, max_iters=self._max_iters,
                             configured_epochs=written, target_iters=target_iters,
                             batch_size=getattr(self.dataloader, 'batch_size', None),
                             samples=len(self.dataloader.dataset))
        self._report(runner)

    def _report(self, runner) -> None:
        s = self.schedule
        how = (f'target_iters={s["target_iters"]} -> {s["max_epochs"]} epochs (config: {s["configured_epochs"]}; '
               f'epoch milestones scaled by the same factor)' if s['target_iters'] is not None
               else f'max_epochs={s["max_epochs"]} as configured (set train_cfg.target_iters to follow the data)')
        print_log(f'training schedule: {s["samples"]} samples, batch {s["batch_size"]} -> {s["iters_per_epoch"]} '
                  f'iterations per epoch x {s["max_epochs"]} epochs = {s["max_iters"]} iterations ({how})',
                  logger='current')
        schedulers = runner.param_schedulers
        if isinstance(schedulers, (list, dict)):
            milestones = [m for c in (schedulers if isinstance(schedulers, list) else [schedulers])
                          if isinstance(c, dict) for m in c.get('milestones', [])]
            if milestones:
                print_log(f'training schedule: learning-rate steps at epochs {milestones}', logger='current')
        if s['max_iters'] < _FEW_ITERS:
            print_log(f'training schedule: only {s["max_iters"]} iterations; the localiser needs more on a small '
                      f'dataset (set train_cfg.target_iters)', logger='current', level=30)
        if is_main_process() and runner.work_dir:
            with open(osp.join(runner.work_dir, SCHEDULE_FILE), 'w') as f:
                json.dump(s, f, indent=1)
