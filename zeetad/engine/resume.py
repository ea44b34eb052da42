"""Exact resume: RNG states in checkpoints and an epoch loop that resumes mid-epoch.

mmengine 0.10.7 resumes the model, optimizer, schedulers, message hub and the epoch/iteration counters, but

* not the random generators: it re-seeds, so dropout after a resume differs from the uninterrupted run;
* not the position inside an epoch: ``EpochBasedTrainLoop`` restarts the interrupted epoch from its first
  batch, so a checkpoint saved mid-epoch (``by_epoch=False``) trains those batches twice and overshoots
  ``max_iters``.

:class:`RNGStateHook` stores the python / numpy / torch (and CUDA) generator states in every checkpoint, and
:class:`ResumableEpochBasedTrainLoop` skips the batches of the interrupted epoch that were already trained
(at the sampler, without loading them) and restores the generators exactly where they were captured. It also
shields training from validation's random draws, so validating does not change the trained weights.
"""
from __future__ import annotations

import random
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import BaseLoop, EpochBasedTrainLoop
from torch.utils.data import BatchSampler

from zeetad.registry import HOOKS, LOOPS


def capture_rng_state() -> dict:
    """The state of every global generator, as types that load with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # numpy's keys as a torch tensor: plain ``weights_only`` loading then needs no numpy allow-listing
    state = dict(python=random.getstate(), torch=torch.get_rng_state(),
                 numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                            has_gauss=int(has_gauss), gauss=float(gauss)))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only when the device count matches)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    n = state['numpy']
    keys = n['keys'].numpy() if isinstance(n['keys'], torch.Tensor) else np.asarray(n['keys'])
    np.random.set_state((n['kind'], keys.astype(np.uint32), n['pos'], n['has_gauss'], n['gauss']))
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the generator states (and world size, writing rank) in checkpoints; give them to the loop on resume.

    Checkpoints are written by rank 0 only, so they hold rank 0's states; with mmengine's default
    ``randomness.diff_rank_seed=False`` every rank draws the same numbers, and each rank restores those.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = capture_rng_state()
        checkpoint['meta'].update(world_size=get_world_size(), saved_by_rank=get_rank())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = runner._train_loop  # the built loop during train(); a dict or None for test/val runs
        if isinstance(loop, ResumableEpochBasedTrainLoop) and 'rng_state' in checkpoint:
            loop.pending_rng_state = (checkpoint['meta'].get('iter'), checkpoint['rng_state'])
        saved = checkpoint.get('meta', {}).get('world_size')
        if saved is not None and saved != get_world_size() and isinstance(loop, BaseLoop):
            print_log(f'checkpoint was trained on {saved} processes, now {get_world_size()}: the total batch '
                      f'size changes (batch_size is per process) unless auto_scale_lr or the batch size is '
                      f'adapted, and the mid-epoch position and random streams cannot be resumed exactly',
                      logger='current', level=30)


class _SkipFirst:
    """A sampler that drops the first ``count`` indices of ``sampler`` (``len`` unchanged: progress logs)."""

    def __init__(self, sampler, count: int) -> None:
        self.sampler, self.count = sampler, count

    def __iter__(self) -> Iterator:
        iterator = iter(self.sampler)
        for _ in range(self.count):
            next(iterator, None)
        return iterator

    def __len__(self) -> int:
        return len(self.sampler)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that resumes mid-epoch checkpoints at the next batch, with the RNG states.

    Takes the same arguments as :class:`mmengine.runner.EpochBasedTrainLoop`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pending_rng_state: Optional[tuple] = None  # (iteration, state) set by RNGStateHook on resume

    def run(self) -> torch.nn.Module:
        self.runner.call_hook('before_train')
        while self._epoch < self._max_epochs and not self.stop_training:
            self.run_epoch()
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._epoch >= self.val_begin
                    and (self._epoch % self.val_interval == 0 or self._epoch == self._max_epochs)):
                state = capture_rng_state()
                self.runner.val_loop.run()
                restore_rng_state(state)
        self.runner.call_hook('after_train')
        return self.runner.model

    def _take_rng_state(self) -> Optional[dict]:
        pending, self.pending_rng_state = self.pending_rng_state, None
        if pending is None or pending[0] != self._iter:
            return None  # loaded with load_from (fine-tuning), or not a resume of this position
        return pending[1]

    def _batches_done(self) -> int:
        done = self._iter - self._epoch * len(self.dataloader)
        if not 0 <= done < len(self.dataloader):
            print_log(f'resume: iteration {self._iter} is not inside epoch {self._epoch + 1} of '
                      f'{len(self.dataloader)} batches (did the dataset or batch size change?); restarting the '
                      f'epoch from its first batch', logger='current', level=30)
            return 0
        return done

    def _epoch_iterator(self, skip: int):
        """Iterator over this epoch's batches, the first ``skip`` left out."""
        batch_sampler = self.dataloader.batch_sampler
        if skip == 0:
            return iter(self.dataloader), None
        if type(batch_sampler) is BatchSampler:
            # Skip at the index level: nothing is loaded for the batches already trained.
            original = batch_sampler.sampler
            batch_sampler.sampler = _SkipFirst(original, skip * batch_sampler.batch_size)
            return iter(self.dataloader), original
        iterator = iter(self.dataloader)  # unknown batch sampler: load and drop
        for _ in range(skip):
            next(iterator)
        return iterator, None

    def run_epoch(self) -> None:
        """One epoch; after a mid-epoch resume, only the batches not yet trained."""
        state = self._take_rng_state()
        skip = self._batches_done()
        # Creating a DataLoader iterator draws a seed from torch's generator (once per epoch, or only once with
        # persistent workers): restore the states on the side of that draw where they were captured.
        loader = self.dataloader
        after_iterator = skip > 0 or (loader.persistent_workers and loader.num_workers > 0)
        if state is not None and not after_iterator:
            restore_rng_state(state)
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        iterator, original_sampler = self._epoch_iterator(skip)
        try:
            if skip:
                print_log(f'resume: skipping the {skip} batches of epoch {self._epoch + 1} trained before the '
                          f'checkpoint (rank {get_rank()})', logger='current')
            if state is not None and after_iterator:
                restore_rng_state(state)
            for idx, data_batch in enumerate(iterator, start=skip):
                self.run_iter(idx, data_batch)
        finally:
            if original_sampler is not None:
                self.dataloader.batch_sampler.sampler = original_sampler
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
