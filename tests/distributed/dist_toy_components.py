"""Toy model, data and metric for fast in-process Runner tests of zeetad's engine (no CLIP, no features)."""
import itertools
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, METRICS, MODELS

_names = itertools.count()


@MODELS.register_module(force=True)
class DistToyModel(BaseModel):
    """Linear -> dropout -> linear regression; ``nan_at`` (sample indices) makes ``loss_bad`` NaN."""

    def __init__(self, dim: int = 4, dropout: float = 0.5, nan_at=()):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.Dropout(dropout), torch.nn.Linear(16, 1))
        self.nan_at = set(nan_at)
        self.seen = []  # training batches' sample indices, in order

    def forward(self, inputs, target, index, mode='loss'):
        out = self.net(torch.stack(inputs)).squeeze(-1)
        if mode != 'loss':
            return [dict(pred=float(p), target=float(t)) for p, t in zip(out, target)]
        self.seen.append([int(i) for i in index])
        losses = dict(loss_mse=(out - torch.stack(target)).pow(2).mean())
        if self.nan_at:
            bad = any(int(i) in self.nan_at for i in index)
            losses['loss_bad'] = out.sum() * (float('nan') if bad else 0.0)
        return losses


@DATASETS.register_module(force=True)
class DistToyData(torch.utils.data.Dataset):
    """Fixed inputs plus numpy noise drawn per item (the main process's generator when num_workers=0)."""

    metainfo = dict(classes=('toy', ))

    def __init__(self, size: int = 16, dim: int = 4, noise: float = 0.1):
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(size, dim, generator=g)
        self.y = self.x.sum(dim=1)
        self.noise = noise

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i] + torch.from_numpy(np.random.normal(0, self.noise, self.x.shape[1]).astype(np.float32))
        return dict(inputs=x, target=self.y[i], index=i)


@METRICS.register_module(force=True)
class DistToyMetric(BaseMetric):
    default_prefix = 'toy'

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(mse=float(np.mean([(r['pred'] - r['target']) ** 2 for r in results])))


def toy_config(work_dir: str, *, max_epochs: int = 2, by_epoch_ckpt: bool = False, validate: bool = False,
               seed: int = 0, nan_at=(), guard: Optional[dict] = None, optim_type: str = 'OptimWrapper',
               num_workers: int = 0, hooks=()) -> Config:
    """A Runner config over the toy components (16 samples, batch 4: 4 iterations per epoch)."""
    loader = dict(dataset=dict(type='DistToyData'), batch_size=4, num_workers=num_workers,
                  persistent_workers=num_workers > 0, sampler=dict(type='DefaultSampler', shuffle=True))
    cfg = dict(
        model=dict(type='DistToyModel', nan_at=list(nan_at)),
        train_dataloader=loader,
        optim_wrapper=dict(type=optim_type, optimizer=dict(type='AdamW', lr=0.01)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)],
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=by_epoch_ckpt,
                                           max_keep_ckpts=-1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=seed), work_dir=work_dir, default_scope='zeetad', launcher='none',
        experiment_name=f'dist_toy_{next(_names)}', log_level='WARNING')
    if validate:
        cfg.update(val_dataloader=dict(loader, sampler=dict(type='DefaultSampler', shuffle=False)),
                   val_evaluator=dict(type='DistToyMetric'), val_cfg=dict(type='ValLoop'))
    cfg['custom_hooks'] = list(hooks)
    if guard is not None:
        cfg['custom_hooks'].append(dict(type='NonFiniteLossHook', **guard))
    return Config(cfg)


def weights(runner) -> dict:
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
