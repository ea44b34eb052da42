"""Mixed precision: ZEETAD's losses and gradients under autocast stay close to float32.

The CUDA cases (the ones ``--amp`` uses) run only where a GPU is present; the CPU bfloat16 case checks the same
code path everywhere (CPU autocast), so the test itself is exercised in CI.
"""
from pathlib import Path

import pytest
import torch

from zeetad.engine.runner_setup import load_config

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / 'configs/zeetad/zeetad_synthetic_thumos14_demo.py')


def _model_and_batch(tiny_dataset, clip_ckpt, device):
    from mmengine.registry import DATASETS, MODELS, init_default_scope

    from zeetad.datasets.collate import tad_collate
    init_default_scope('zeetad')
    opts = {'model.localizer.loc_dim': 8, 'model.localizer.clip_dim': 6, 'model.localizer.d_model': 32,
            'model.localizer.transformer.nhead': 2, 'model.localizer.transformer.enc_layers': 1,
            'model.localizer.transformer.dec_layers': 1, 'model.localizer.transformer.dropout': 0.0,
            'model.localizer.actionness.dropout': 0.0, 'model.localizer.actionness.hidden_dim': 32,
            'model.classifier.text_encoder.pretrained': clip_ckpt,
            'model.classifier.text_encoder.model_config_file': str(ROOT / 'configs/_base_/clip/zeetad-tiny-clip.json')}
    for key, value in tiny_dataset.items():
        opts[f'train_dataloader.dataset.{key}'] = value
    opts.update({'train_dataloader.dataset.window_size': 16, 'train_dataloader.dataset.verbose': False})
    cfg = load_config(DEMO, opts)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    batch = tad_collate([dataset[i] for i in range(min(4, len(dataset)))])
    return model, batch


def _losses_and_grad(model, batch, dtype):
    model.zero_grad()
    device = next(model.parameters()).device
    torch.manual_seed(1)  # the denoising queries draw their noise in training: the same noise for both precisions
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
    total, log_vars = model.parse_losses(losses)
    total.backward()
    grad = torch.cat([p.grad.float().flatten() for p in model.parameters() if p.grad is not None])
    return {k: float(v.detach()) for k, v in log_vars.items()}, grad


def _check(tiny_dataset, clip_ckpt, device, dtype, rtol):
    model, batch = _model_and_batch(tiny_dataset, clip_ckpt, device)
    ref, ref_grad = _losses_and_grad(model, batch, None)
    amp, amp_grad = _losses_and_grad(model, batch, dtype)
    for name, value in ref.items():
        assert torch.isfinite(torch.tensor(amp[name])), name
        assert abs(amp[name] - value) <= rtol * max(abs(value), 1e-3), (name, amp[name], value)
    cosine = torch.nn.functional.cosine_similarity(ref_grad, amp_grad, dim=0)
    assert torch.isfinite(amp_grad).all() and cosine > 0.98


def test_cpu_bfloat16_autocast_is_close_to_float32(tiny_dataset, tiny_clip_ckpt):
    _check(tiny_dataset, tiny_clip_ckpt, 'cpu', torch.bfloat16, rtol=0.05)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU (what --amp uses)')
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cuda_autocast_is_close_to_float32(tiny_dataset, tiny_clip_ckpt, dtype):
    if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        pytest.skip('no bf16 on this GPU')
    _check(tiny_dataset, tiny_clip_ckpt, 'cuda', dtype, rtol=0.05)
