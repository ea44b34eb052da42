import math
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mmengine.registry import DefaultScope

from zeetad.models.classifiers import ZeroShotProposalClassifier, prior_logit_bias
from zeetad.registry import MODELS
from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG

SEEN = ['HighJump', 'LongJump', 'CleanAndJerk']
UNSEEN = ['PoleVault', 'Applying sunscreen', 'BMX', 'ThrowDiscus', 'Rock-paper-scissors', 'Diving', 'YoYo']


@pytest.fixture(scope='module')
def frozen_classifier(tiny_clip_ckpt):
    torch.manual_seed(0)
    enc = dict(type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG, pretrained=tiny_clip_ckpt)
    return ZeroShotProposalClassifier(text_encoder=enc, in_dim=32).eval()


def test_logits_shape_and_value(frozen_classifier):
    clf = frozen_classifier
    q = torch.randn(2, 5, 32)
    for names in (SEEN, UNSEEN, UNSEEN[:1]):  # open vocabulary: any K
        logits = clf(q, names)
        assert logits.shape == (2, 5, len(names))
        text = clf.text_embeddings(names)
        expected = clf.logit_scale * F.normalize(clf.proj(q), dim=-1) @ text.T
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(clf(q, text_embeds=text), logits, atol=0, rtol=0)
    assert math.isclose(clf.logit_scale.item(), 1 / 0.07, rel_tol=1e-6)
    with pytest.raises(ValueError, match='class_names or text_embeds'):
        clf(q)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(-3.0, 6.0), st.integers(1, 9))
def test_cosine_bounds(seed, log_scale, num_classes):
    torch.manual_seed(seed)
    clf = ZeroShotProposalClassifier(text_encoder=_FakeEncoder(), in_dim=6, logit_scale_init=log_scale)
    q = torch.randn(3, 4, 6) * 10
    text = F.normalize(torch.randn(num_classes, 8), dim=-1)
    logits = clf(q, text_embeds=text)
    scale = min(math.exp(log_scale), 100.0)
    assert logits.abs().max().item() <= scale * (1 + 1e-5)
    # The query most aligned with a class reaches the bound when it equals it.
    with torch.no_grad():
        clf.proj.weight.zero_()
        clf.proj.weight[:, 0] = text[0]
        clf.proj.bias.zero_()
    x = torch.zeros(1, 1, 6)
    x[..., 0] = 1
    assert math.isclose(clf(x, text_embeds=text)[0, 0, 0].item(), scale, rel_tol=1e-5)


class _FakeEncoder(torch.nn.Module):
    embed_dim = 8

    def encode(self, names):
        raise AssertionError('text_embeds given: encoder must not run')


def test_scale_learnable_clamped_and_bias():
    clf = ZeroShotProposalClassifier(text_encoder=_FakeEncoder(), in_dim=4, bias_init=prior_logit_bias(0.01),
                                     hidden_dim=16)
    assert isinstance(clf.proj, torch.nn.Sequential)
    assert math.isclose(prior_logit_bias(0.01), -4.59511985, rel_tol=1e-8)
    text = F.normalize(torch.randn(3, 8), dim=-1)
    q = torch.randn(2, 5, 4)
    logits = clf(q, text_embeds=text)
    logits.sum().backward()
    assert clf.log_logit_scale.grad is not None and clf.log_logit_scale.grad.abs() > 0
    assert clf.logit_bias.grad.item() == pytest.approx(2 * 5 * 3)
    expected = clf.logit_scale * clf.project(q) @ text.T + prior_logit_bias(0.01)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    fixed = ZeroShotProposalClassifier(text_encoder=_FakeEncoder(), in_dim=4, learnable_scale=False,
                                       logit_scale_init=math.log(1000.0))
    assert 'log_logit_scale' not in dict(fixed.named_parameters())
    assert 'log_logit_scale' in fixed.state_dict()
    assert fixed.logit_scale.item() == pytest.approx(100.0)
    with pytest.raises(ValueError):
        prior_logit_bias(1.0)


def test_training_reaches_projection_scale_and_adapters_only(tiny_clip_ckpt):
    enc = dict(type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG, pretrained=tiny_clip_ckpt,
               num_adapter_blocks=1, adapter_width=8)
    with DefaultScope.overwrite_default_scope('zeetad'):
        clf = MODELS.build(dict(type='ZeroShotProposalClassifier', text_encoder=enc, in_dim=16)).train()
    logits = clf(torch.randn(2, 3, 16), SEEN)
    F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)).backward()
    with_grad = {n for n, p in clf.named_parameters() if p.grad is not None}
    assert with_grad == {n for n, p in clf.named_parameters() if p.requires_grad}
    assert {n.split('.')[0] for n in with_grad} == {'text_encoder', 'proj', 'log_logit_scale'}
    assert all('.adapters.' in n for n in with_grad if n.startswith('text_encoder'))
    clf.eval()
    assert clf.text_embeddings(UNSEEN) is clf.text_embeddings(UNSEEN)  # cached at test time


def test_registry_locations_import_text_encoder():
    """A config with default_scope='zeetad' builds the encoder with nothing imported by hand."""
    code = ('from mmengine.registry import DefaultScope\n'
            'from zeetad.registry import MODELS\n'
            "DefaultScope.get_instance('t', scope_name='zeetad')\n"
            "print(MODELS.get('CLIPTextEncoder').__name__, MODELS.get('ZeroShotProposalClassifier').__name__)\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ['CLIPTextEncoder', 'ZeroShotProposalClassifier']
