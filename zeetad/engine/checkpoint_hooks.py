"""Checkpoint hooks: rotation that never leaves a work dir without a checkpoint, and a fit check on loading.

mmengine 0.10.7's ``CheckpointHook`` deletes the oldest checkpoint *before* writing the new one: with
``max_keep_ckpts=1`` a kill during the write leaves no checkpoint at all. :class:`SafeCheckpointHook` writes
first (atomically, see :mod:`zeetad.engine.checkpoint_io`), then ``last_checkpoint``, then deletes.

mmengine loads checkpoints with ``strict=False``: a checkpoint of another config loads half-way, with one
warning per skipped tensor, and the run goes on with a partly random model. :class:`CheckpointFitHook` refuses it.
"""
from __future__ import annotations

import os.path as osp
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log

from zeetad.registry import HOOKS
from zeetad.utils.atomic_io import atomic_write_text

from .checkpoint_io import CheckpointError, check_state_dict_fits, fit_training_only, remove_orphan_temp_files


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) whose rotation deletes only once the new checkpoint is in place.

    Before saving, rank 0 also removes the temporary files of a save that was killed (logged).
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        stale = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale = self.keep_ckpt_ids.popleft()  # deleted below, after the new file is written
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if is_main_process() and osp.isdir(self.out_dir):
            remove_orphan_temp_files(self.out_dir)
        runner.save_checkpoint(self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
                               save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
                               backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if stale is not None and stale != step:
            self._remove(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(stale)))

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # deepspeed checkpoints are folders
            self.file_backend.rmtree(path)


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Refuse (``CheckpointError``) a loaded checkpoint whose keys or shapes differ from the model's.

    Args:
        partial_load_from: allow ``load_from`` (not ``--resume``) to load a checkpoint that fits only in
            part, e.g. fine-tuning from another config's weights; mmengine then warns per skipped tensor.
    """

    priority = 'VERY_HIGH'

    def __init__(self, partial_load_from: bool = False) -> None:
        self.partial_load_from = partial_load_from

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.partial_load_from and not runner._resume:
            return
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        source = runner._load_from or 'the latest checkpoint in the work dir'  # None: mmengine's auto-resume
        state = checkpoint.get('state_dict', checkpoint)
        if not runner._resume:  # testing or fine-tuning: the denoising queries of training need not match
            ignored = fit_training_only(model, state)
            if ignored:
                print_log(f'{source}: {len(ignored)} training-only tensors ({ignored[0]}, ...) follow the model',
                          logger='current', level=10)
        check_state_dict_fits(model, state, str(source))
        print_log(f'{source}: keys and shapes fit the model', logger='current', level=10)
        check_classes_fit(runner, checkpoint, str(source))


def _dataset_meta(loop) -> dict:
    """The metainfo of a built loop's dataset (``{}`` when there is none); avoids ``.metainfo``'s deep copy."""
    dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
    meta = getattr(dataset, '_metainfo', None)
    return meta if isinstance(meta, dict) else {}


def check_classes_fit(runner, checkpoint: dict, source: str) -> None:
    """Refuse (``CheckpointError``) a checkpoint trained on another class split than the run expects.

    The weights of another split fit the model exactly, so nothing else notices: resuming would go on
    training on other classes (mmengine only warns), and testing a zero-shot split would score "unseen" classes
    the checkpoint was trained on, an inflated result. Checkpoints trained closed-set on purpose (``closed``
    mode, ``train_on_all``) and closed-set tests are let through.
    """
    from mmengine.runner.base_loop import BaseLoop
    trained = ((checkpoint.get('meta') or {}).get('dataset_meta') or {})
    seen, trained_split = trained.get('classes'), str(trained.get('split', ''))
    if not seen or 'closed-set' in trained_split:
        return
    if runner._resume:
        meta = _dataset_meta(runner._train_loop) if isinstance(runner._train_loop, BaseLoop) else {}
        if meta.get('classes') and tuple(meta['classes']) != tuple(seen):
            raise CheckpointError(f'{source} was trained on {trained_split or "other classes"}, this config trains '
                                  f'on {meta.get("split", "other classes")}: resume with the config it was trained '
                                  f'with (classes differ: {sorted(set(seen) ^ set(meta["classes"]))[:5]})')
        return
    loop = getattr(runner, '_test_loop', None)
    meta = _dataset_meta(loop) if isinstance(loop, BaseLoop) else {}
    leaked = sorted(set(meta.get('classes') or ()) & set(seen))
    if leaked and 'closed-set' not in str(meta.get('split', '')):
        raise CheckpointError(f'{source} was trained on {trained_split}, whose seen classes include {len(leaked)} '
                              f'of the classes this config tests as unseen ({meta.get("split", "")}): {leaked[:5]}; '
                              'the zero-shot result would be inflated. Test it with the split it was trained on')
