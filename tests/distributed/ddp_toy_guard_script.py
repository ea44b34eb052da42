"""Run under ``torchrun --nproc_per_node=2`` by test_dist_guards.py: a toy model trained with zeetad's
build_runner on CPU (gloo chosen although the config asks for nccl); the sample ``nan_index`` (seen by one rank
only) makes the loss term ``loss_bad`` NaN.

    python -m torch.distributed.run --nproc_per_node=2 ddp_toy_guard_script.py OUT_DIR NAN_INDEX

Writes ``OUT_DIR/skip_rank{r}.pt`` (weights, skipped count, backend) after a run with ``action='skip'`` and
``OUT_DIR/raise_rank{r}.txt`` (the FloatingPointError message) after one with ``action='raise'``.
"""
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def build_toy(nan_index: int):
    from mmengine.model import BaseModel
    from mmengine.registry import DATASETS, MODELS

    @MODELS.register_module(name='DistToyGuardModel', force=True)
    class DistToyGuardModel(BaseModel):
        def __init__(self, dim: int = 4):
            super().__init__()
            self.linear = torch.nn.Linear(dim, 1)

        def forward(self, inputs, index, mode='loss'):
            x = torch.stack(inputs)
            loss = (self.linear(x) - 1).pow(2).mean()
            bad = torch.stack([torch.tensor(float('nan') if int(i) == nan_index else 0.0) for i in index]).sum()
            return dict(loss_mse=loss, loss_bad=bad + 0 * loss)

    @DATASETS.register_module(name='DistToyGuardData', force=True)
    class DistToyGuardData(torch.utils.data.Dataset):
        def __init__(self, size: int = 16, dim: int = 4):
            g = torch.Generator().manual_seed(0)
            self.x = torch.randn(size, dim, generator=g)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return dict(inputs=self.x[i], index=i)


def config(work_dir: str, action: str) -> dict:
    from mmengine.config import Config
    return Config(dict(
        model=dict(type='DistToyGuardModel'),
        train_dataloader=dict(dataset=dict(type='DistToyGuardData'), batch_size=2, num_workers=0,
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        custom_hooks=[dict(type='NonFiniteLossHook', action=action)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1), logger=dict(type='LoggerHook',
                                                                                          interval=1)),
        env_cfg=dict(dist_cfg=dict(backend='nccl')),  # no GPU here: zeetad must fall back to gloo
        randomness=dict(seed=0), launcher='pytorch', work_dir=work_dir, default_scope='zeetad'))


def main(out: str, nan_index: int) -> None:
    from zeetad.engine.distributed import finalize_distributed
    from zeetad.engine.runner_setup import build_runner
    build_toy(nan_index)
    rank = int(os.environ['RANK'])
    cfg = config(os.path.join(out, 'skip'), 'skip')
    runner = build_runner(cfg)
    runner.train()
    torch.save(dict(weight=runner.model.module.linear.weight.detach().clone(),
                    skipped=runner.optim_wrapper.num_skipped, backend=torch.distributed.get_backend(),
                    wrapper=type(runner.model).__name__, device_ids=runner.model.device_ids),
               os.path.join(out, f'skip_rank{rank}.pt'))
    runner = build_runner(config(os.path.join(out, 'raise'), 'raise'))
    try:
        runner.train()
        message = 'no error'
    except FloatingPointError as exc:
        message = str(exc)
    Path(out, f'raise_rank{rank}.txt').write_text(message)
    finalize_distributed()


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
