"""Padding invariance of the whole ZEETAD model, for every shipped config: a window gives the same segments,
scores, actionness and decoder states alone as inside a batch that pads it (with garbage) by 12 steps."""
import pytest
import torch

from zeetad.models.layers import MaskedConvNorm1d, MaskedGroupNorm
from zeetad.registry import MODELS
from testing_utils import ROOT, tiny_model_cfg

CONFIGS = sorted(p.name for p in (ROOT / 'configs' / 'zeetad').glob('*.py'))
CLASSES = ['HighJump', 'PoleVault', 'Diving']
SHORT, PAD = 20, 12  # the short window, and how much longer its batch-mate is


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """A trained-ish model: every localiser and projection parameter moved off its init (zero-initialised heads
    and offsets included), GroupNorm affine far from (1, 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in [model.localizer, model.classifier.proj]:
            for p in module.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
        for m in model.localizer.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.copy_(1 + torch.randn(m.weight.shape, generator=g) * 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.5)


def windows(model, seed: int = 0):
    """``(alone, batch)`` inputs: the short window alone, and first in a batch padded to ``SHORT + PAD`` with
    garbage (the localiser must never read it)."""
    g = torch.Generator().manual_seed(seed)
    loc_dim = model.localizer.loc_proj[0].in_channels
    clip_dim = model.localizer.clip_dim
    T = SHORT + PAD
    loc = torch.randn(2, T, loc_dim, generator=g)
    clip = torch.nn.functional.normalize(torch.randn(2, T, clip_dim, generator=g), dim=-1)
    mask = torch.zeros(2, T, dtype=torch.bool)
    mask[0, SHORT:] = True
    loc[0, SHORT:] = torch.randn(PAD, loc_dim, generator=g) * 10
    clip[0, SHORT:] = torch.randn(PAD, clip_dim, generator=g) * 10
    alone = dict(loc=loc[:1, :SHORT].clone(), clip=clip[:1, :SHORT].clone(), mask=mask[:1, :SHORT].clone())
    return alone, dict(loc=loc, clip=clip, mask=mask)


def samples(n: int) -> list:
    return [dict(video_id=f'v{i}', classes=CLASSES, span_s=30.0, begin_s=5.0, duration=60.0) for i in range(n)]


def assert_window_unchanged_by_padding(model) -> None:
    alone_in, batch_in = windows(model)
    with torch.no_grad():
        alone = model(alone_in, samples(1), mode='tensor')
        batch = model(batch_in, samples(2), mode='tensor')
    # (M, B, ...): every decoder layer; then (B, ...)
    for key in ('segments', 'segments_cw', 'semantics', 'logits', 'actionness', 'valid_len'):
        first = batch[key][:, :1] if batch[key].dim() > 2 else batch[key][:1]
        torch.testing.assert_close(first, alone[key], atol=1e-5, rtol=1e-5, msg=lambda m, key=key: f'{key}: {m}')
    with torch.no_grad():
        a = model(alone_in, samples(1), mode='predict')[0]
        b = model(batch_in, samples(2), mode='predict')[0]
    torch.testing.assert_close(torch.as_tensor(b['scores']), torch.as_tensor(a['scores']), atol=1e-5, rtol=1e-5)
    # seconds: 1e-5 of the 30 s span
    torch.testing.assert_close(torch.as_tensor(b['segments']), torch.as_tensor(a['segments']), atol=3e-4, rtol=0)


@pytest.mark.parametrize('trained', [False, True], ids=['init', 'randomised'])
@pytest.mark.parametrize('config', CONFIGS)
def test_shipped_configs_are_padding_invariant(config, trained, tiny_clip_ckpt):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg(config, tiny_clip_ckpt)).eval()
    if trained:
        randomise(model)
    assert_window_unchanged_by_padding(model)


def test_feature_pyramid_is_padding_invariant(tiny_clip_ckpt):
    """Three levels: the stride-2 convs and their GroupNorms see valid steps only, on every level."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt, num_levels=3)).eval()
    randomise(model)
    assert len(model.localizer.downsample) == 2
    assert_window_unchanged_by_padding(model)


def test_masked_group_norm_matches_group_norm_of_the_valid_part():
    torch.manual_seed(0)
    norm = MaskedGroupNorm(4, 8)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(3, 8, 10) * 3 + 1
    lengths = [10, 6, 1]
    mask = torch.arange(10)[None] >= torch.tensor(lengths)[:, None]
    out = norm(x, mask)
    for b, n in enumerate(lengths):
        expected = torch.nn.functional.group_norm(x[b:b + 1, :, :n], 4, norm.weight, norm.bias, norm.eps)
        torch.testing.assert_close(out[b:b + 1, :, :n], expected, atol=1e-5, rtol=1e-5)
        assert (out[b, :, n:] == 0).all()
    torch.testing.assert_close(norm(x), torch.nn.functional.group_norm(x, 4, norm.weight, norm.bias, norm.eps))
    # An all-padded window stays finite.
    assert torch.isfinite(norm(x, torch.ones(3, 10, dtype=torch.bool))).all()
    # Half precision in, half precision out, statistics in float32.
    half = norm(x.bfloat16(), mask)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), out, atol=0.05, rtol=0.02)


@pytest.mark.parametrize('stride', [1, 2])
def test_masked_conv_norm_ignores_padded_garbage(stride):
    torch.manual_seed(0)
    block = MaskedConvNorm1d(5, 8, stride=stride, groups=4)
    x = torch.randn(1, 5, 7)
    padded = torch.cat((x, torch.randn(1, 5, 6) * 100), -1)
    mask = torch.arange(13)[None] >= 7
    out = block(padded, mask)
    alone = block(x)
    assert alone.shape[-1] == -(-7 // stride)
    torch.testing.assert_close(out[..., :alone.shape[-1]], alone, atol=1e-5, rtol=1e-5)
    assert (out[..., alone.shape[-1]:] == 0).all()


def test_state_dict_keys_of_the_input_projection_are_unchanged():
    """Checkpoints of the ``Sequential(Conv1d, GroupNorm)`` projection still load."""
    keys = set(MaskedConvNorm1d(4, 8).state_dict())
    assert keys == {'0.weight', '0.bias', '1.weight', '1.bias'}


def test_every_pyramid_level_gets_gradient(tiny_clip_ckpt):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt, num_levels=3))
    randomise(model)
    _, batch_in = windows(model)
    out = model(batch_in, samples(2), mode='tensor')
    (out['segments'].sum() + out['logits'].sum() + out['actionness'].sum()).backward()
    level_embed = model.localizer.transformer.level_embed
    assert level_embed.shape[0] == 3 and (level_embed.grad.abs().sum(1) > 0).all()
    for p in model.localizer.downsample.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
