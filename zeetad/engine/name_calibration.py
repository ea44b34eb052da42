"""Fit the calibrated per-name score (:class:`zeetad.models.classifiers.CalibratedNameScorer`) at the end of training.

The model's final proposals on the training windows are matched (tIoU >= 0.5) to the ground truth of the seen
classes the classification loss never saw (the scorer's held-out names); their features against those names and the
match labels fit the scorer's logistic weights, which are saved with the last checkpoint.
"""
from __future__ import annotations

import logging
from typing import Iterable, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from zeetad.registry import HOOKS
from zeetad.structures.segments import segment_iou
from zeetad.text.unrelated_names import UNRELATED_ACTION_NAMES

MATCH_TIOU = 0.5


@torch.no_grad()
def fit_name_scorer(model, batches: Iterable, max_batches: Optional[int] = None) -> dict:
    """Collect ``(proposal, held-out name)`` features and match labels over ``batches`` (training batches as the
    dataloader yields them) and fit ``model.name_scorer``; -> its fit statistics."""
    scorer = model.name_scorer
    was_training = model.training
    model.eval()
    feats, labels, reference = [], [], None
    try:
        for n, batch in enumerate(batches):
            if max_batches is not None and n >= max_batches:
                break
            data = model.data_preprocessor(batch, False)
            inputs, samples = data['inputs'], data['data_samples']
            names = list(samples[0]['classes'])
            held = scorer.holdout_names(names)
            if not held:
                raise ValueError(f'model.name_scorer: no seen class to hold out among {len(names)}')
            kept = [c for c in names if c not in held]
            reference = model.classifier.text_embeddings(kept).float()
            scorer.reference_text = reference  # the features take names relative to the trained names
            out = model._run(inputs, held, last_only=True)
            unrelated = [u for u in UNRELATED_ACTION_NAMES if u not in names][:scorer.unrelated_negatives]
            text = model.classifier.text_embeddings(held + unrelated).float()
            f = scorer.features(model, out, text)  # (B, Q, H + U, F); the U unrelated names are never right
            segments = out['segments'][-1].float()  # (B, Q, 2) window-normalised
            for i, sample in enumerate(samples):
                y = torch.zeros(f.shape[1], f.shape[2])
                gt = torch.as_tensor(sample['gt_segments'], dtype=torch.float32).reshape(-1, 2).to(segments.device)
                if len(gt):
                    hit = segment_iou(segments[i], gt) >= MATCH_TIOU  # (Q, N)
                    for j, label in enumerate(torch.as_tensor(sample['gt_labels']).reshape(-1).tolist()):
                        if names[label] in held:
                            y[:, held.index(names[label])] += hit[:, j].float().cpu()
                feats.append(f[i].cpu())
                labels.append(y.clamp(max=1.0))
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError('model.name_scorer: no training batch to fit on')
    return scorer.fit(torch.cat(feats), torch.cat(labels), reference.cpu())


@HOOKS.register_module()
class NameCalibrationHook(Hook):
    """Fits ``model.name_scorer`` after the last training epoch (or iteration), before that checkpoint is saved.

    Args:
        max_batches: training batches to fit on (None: one pass over the training dataloader).
    """
    priority = 'NORMAL'  # above CheckpointHook (VERY_LOW): the last checkpoint holds the fit

    def __init__(self, max_batches: Optional[int] = None) -> None:
        self.max_batches = max_batches

    def _fit(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        if getattr(model, 'name_scorer', None) is None:
            return
        try:
            stats = fit_name_scorer(model, runner.train_dataloader, self.max_batches)
        except ValueError as exc:  # too few matches (a very short run): tests fall back to the softmax, logged
            print_log(f'name scorer not fitted: {exc}', logger='current', level=logging.WARNING)
            return
        print_log(f'name scorer fitted on held-out seen classes: {stats}', logger='current')

    def after_train_epoch(self, runner) -> None:
        if getattr(runner.train_loop, 'max_epochs', None) is not None and runner.epoch + 1 >= runner.max_epochs:
            self._fit(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if getattr(runner.train_loop, 'max_epochs', None) is None and runner.iter + 1 >= runner.max_iters:
            self._fit(runner)
