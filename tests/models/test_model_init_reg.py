"""Keeping the zero-shot prior: L2-SP toward the initialisation (``model.init_reg``) and the learning-rate
multipliers of the text adapters and the classifier's projection."""
import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from zeetad.models.losses import L2SPRegularizer
from zeetad.registry import MODELS
from tools.analysis_tools.bench_model import build_optim_wrapper
from test_model_zeetad import batches, dataset, model_cfg
from testing_utils import ROOT

KEYS = ('classifier.proj', 'classifier.text_encoder.adapters')


def _model(data, weight):
    torch.manual_seed(0)
    return MODELS.build(dict(model_cfg(data), init_reg=dict(keys=KEYS, weight=weight)))


def test_l2sp_is_zero_at_init_positive_after_a_step_and_matches_the_hand_value(synthetic_small):
    model = _model(synthetic_small, weight=0.5)
    batch = next(batches(dataset(synthetic_small, 'train'), 4, 1))
    losses = model.train_step(batch, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0)))
    assert losses['loss_init_reg'].item() == 0.0  # at the anchor
    anchors = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith(KEYS)}
    assert {n.split('.')[1] for n in anchors} == {'proj', 'text_encoder'}
    assert model.classifier.proj.weight.shape[1] > model.localizer.clip_dim  # identity on the CLIP part only
    torch.testing.assert_close(anchors['classifier.proj.weight'][:, -model.localizer.clip_dim:],
                               torch.eye(model.localizer.clip_dim))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-2))
    model.train_step(batch, wrapper)
    expected = 0.5 * sum(float((p.detach() - anchors[n]).pow(2).sum())
                         for n, p in model.named_parameters() if n in anchors)
    assert expected > 0
    assert model.init_reg(model).item() == pytest.approx(expected, rel=1e-5)
    # Its gradient points back to the anchor: one plain gradient step on the penalty alone lowers it.
    before = model.init_reg(model)
    model.zero_grad()
    before.backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= 0.1 * p.grad
    assert model.init_reg(model).item() < before.item()


def test_l2sp_anchor_survives_a_checkpoint_and_off_by_default(synthetic_small):
    model = _model(synthetic_small, weight=1.0)
    with torch.no_grad():
        model.classifier.proj.weight.add_(0.1)  # "trained"
    state = model.state_dict()
    assert any(k.startswith('init_reg.') for k in state)
    fresh = _model(synthetic_small, weight=1.0)
    with torch.no_grad():
        for p in fresh.init_reg.buffers():
            p.fill_(7.0)  # a different anchor, to be overwritten by the checkpoint's
    fresh.load_state_dict(state)
    # The resumed anchor is the original initialisation, not the resumed weights.
    assert fresh.init_reg(fresh).item() == pytest.approx(model.init_reg(model).item(), rel=1e-6)
    assert fresh.init_reg(fresh).item() > 0
    plain = MODELS.build(model_cfg(synthetic_small))
    assert plain.init_reg is None
    batch = next(batches(dataset(synthetic_small, 'train'), 2, 1))
    assert 'loss_init_reg' not in plain.train_step(batch, OptimWrapper(torch.optim.SGD(plain.parameters(), lr=0.0)))


def test_l2sp_rejects_keys_that_match_nothing():
    with pytest.raises(ValueError, match='match no trainable parameter'):
        L2SPRegularizer(keys=['classifier.nothing'], weight=1.0).capture(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match='init_reg.weight'):
        L2SPRegularizer(weight=-1.0)


def test_lr_mult_of_adapters_and_projection_reaches_the_optimizer(synthetic_small):
    cfg = Config.fromfile(str(ROOT / 'configs' / 'zeetad' / 'zeetad_synthetic_hard.py'))
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys['classifier.proj'].lr_mult == 1.0 and keys['text_encoder'].lr_mult == 1.0  # shipped: base rate
    keys['classifier.proj'] = dict(lr_mult=0.25)
    keys['text_encoder'] = dict(lr_mult=3.0)
    model = MODELS.build(model_cfg(synthetic_small))
    wrapper = build_optim_wrapper(model, cfg)
    base = cfg.optim_wrapper.optimizer.lr
    names = {id(p): n for n, p in model.named_parameters()}
    lrs = {names[id(p)]: g['lr'] for g in wrapper.optimizer.param_groups for p in g['params']}
    assert lrs['classifier.proj.weight'] == pytest.approx(0.25 * base)
    assert lrs['classifier.proj.bias'] == pytest.approx(0.25 * base)
    assert lrs['classifier.text_encoder.adapters.0.up.weight'] == pytest.approx(3.0 * base)
    assert lrs['classifier.log_logit_scale'] == pytest.approx(base)
