"""Speed paths give the same numbers as the plain computation they replace (issue 12): the text tower's last
block run for the pooled token only, every decoder layer classified in one call, inference classifying the last
layer only, the fused AdamW step; and the input-projection kernel as a config field."""
import copy

import pytest
import torch

from zeetad.models.heads.segment_pooling import pool_in_segments
from zeetad.registry import MODELS
from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
from zeetad.text.clip_text_encoder import CLIPTextEncoder
from testing_utils import ROOT, tiny_model_cfg

from test_model_padding import randomise, samples, windows  # noqa: E402

NAMES = ['HighJump', 'PoleVault', 'Diving', 'CleanAndJerk', 'Billiards', 'a much longer class name for a prompt']


def _encoders(ckpt: str, adapted: int):
    torch.manual_seed(0)
    plain = CLIPTextEncoder(model_config_file=TINY_CLIP_CONFIG, pretrained=ckpt, num_adapter_blocks=adapted,
                            adapter_width=8, pooled_last_block=False)
    fast = copy.deepcopy(plain)
    fast.pooled_last_block = True
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # trained-ish adapters: the zero-initialised ones would be identities
        for a, b in zip(plain.adapters, fast.adapters):
            w = torch.randn(a.up.weight.shape, generator=g) * 0.5
            a.up.weight.copy_(w)
            b.up.weight.copy_(w)
    return plain.train(), fast.train()


@pytest.mark.parametrize('adapted', [1, 2])
def test_pooled_last_block_equals_full_block(tiny_clip_ckpt, adapted):
    plain, fast = _encoders(tiny_clip_ckpt, adapted)
    assert fast.tower.can_run_pooled(fast.tower.num_layers - 1)
    a, b = plain.encode(NAMES), fast.encode(NAMES)
    torch.testing.assert_close(b, a, atol=1e-6, rtol=0)
    w = torch.randn(a.shape, generator=torch.Generator().manual_seed(2))
    (a * w).sum().backward()
    (b * w).sum().backward()
    for (name, p), q in zip(plain.named_parameters(), fast.parameters()):
        if p.requires_grad:  # float32 sums in another order: 1e-5 of the largest gradient entry
            tol = 1e-5 * float(p.grad.abs().max())
            torch.testing.assert_close(q.grad, p.grad, atol=tol, rtol=0, msg=lambda m, n=name: f'{n}: {m}')


def test_pooled_last_block_runs_one_token_per_prompt(tiny_clip_ckpt):
    """The speed-up itself: the last block's MLP sees one token per prompt, not the whole (truncated) sequence."""
    _, fast = _encoders(tiny_clip_ckpt, 2)
    seen = []
    last = fast.tower.transformer.resblocks[-1]
    handle = last.mlp.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    try:
        fast.encode(NAMES)
    finally:
        handle.remove()
    assert len(seen) == 1 and seen[0][:2] == (len(NAMES), 1), seen


def _model(ckpt: str, **localizer):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', ckpt, **localizer)).eval()
    randomise(model)
    return model


def test_all_decoder_layers_classified_in_one_call_match_per_layer(tiny_clip_ckpt):
    model = _model(tiny_clip_ckpt)
    _, inputs = windows(model)
    with torch.no_grad():
        out = model(inputs, samples(2), mode='tensor')
        valid_len = (~inputs['mask']).sum(1).float()
        clip = inputs['clip'].masked_fill(inputs['mask'][..., None], 0.0)
        text = model.classifier.text_embeddings(samples(1)[0]['classes'])
        hidden = model.localizer.transformer(*_features(model, inputs))['hidden_states']
    M = out['segments'].shape[0]
    assert out['semantics'].shape[0] == out['logits'].shape[0] == M > 1
    for layer in range(M):  # the reference: one layer at a time
        sem = torch.cat([hidden[layer], pool_in_segments(clip, out['segments'][layer], valid_len,
                                                         model.localizer.pool_sharpness)], -1)
        torch.testing.assert_close(out['semantics'][layer], sem, atol=1e-6, rtol=0)
        q = torch.nn.functional.normalize(model.classifier.proj(sem), dim=-1)
        logits = model.classifier.logit_scale * torch.einsum('bqd,kd->bqk', q, text) + model.classifier.logit_bias
        torch.testing.assert_close(out['logits'][layer], logits, atol=1e-5, rtol=1e-6)


def _features(model, inputs):
    loc = model.localizer
    x = loc.loc_proj(inputs['loc'].transpose(1, 2), inputs['mask'])
    clip = inputs['clip'].masked_fill(inputs['mask'][..., None], 0.0)
    x = x + loc.clip_proj(clip.transpose(1, 2), inputs['mask'])
    return [x], [inputs['mask']]


def test_inference_classifies_only_the_last_layer_with_the_same_scores(tiny_clip_ckpt):
    model = _model(tiny_clip_ckpt)
    _, inputs = windows(model)
    names = samples(1)[0]['classes']
    with torch.no_grad():
        full = model._run(inputs, names)
        last = model._run(inputs, names, last_only=True)
    assert last['logits'].shape[0] == last['semantics'].shape[0] == 1
    torch.testing.assert_close(last['logits'][-1], full['logits'][-1], atol=1e-6, rtol=0)
    torch.testing.assert_close(last['semantics'][-1], full['semantics'][-1], atol=1e-6, rtol=0)
    torch.testing.assert_close(last['actionness'], full['actionness'], atol=1e-6, rtol=0)


@pytest.mark.parametrize('kernel', [1, 3, 5])
def test_input_projection_kernel_is_a_config_field(tiny_clip_ckpt, kernel):
    from test_model_padding import assert_window_unchanged_by_padding
    model = _model(tiny_clip_ckpt, proj_kernel=kernel)
    assert model.localizer.loc_proj[0].kernel_size == (kernel, )
    assert model.localizer.clip_proj[0].kernel_size == (kernel, )
    assert_window_unchanged_by_padding(model)


@pytest.mark.parametrize('kernel', [0, 2, -1])
def test_even_or_nonpositive_projection_kernel_is_rejected(tiny_clip_ckpt, kernel):
    with pytest.raises(ValueError, match='proj_kernel'):
        _model(tiny_clip_ckpt, proj_kernel=kernel)


def test_shipped_schedule_uses_fused_adamw_with_the_plain_update(tiny_clip_ckpt):
    from mmengine.config import Config

    from benchmarks.common.model import build_optim_wrapper
    cfg = Config.fromfile(str(ROOT / 'configs' / 'zeetad' / 'zeetad_thumos14_i3d_clip.py'))
    models = [_model(tiny_clip_ckpt).train() for _ in range(2)]
    fused = build_optim_wrapper(models[0], cfg)
    plain_cfg = copy.deepcopy(cfg)
    plain_cfg.optim_wrapper.optimizer.fused = False
    plain = build_optim_wrapper(models[1], plain_cfg)
    assert fused.optimizer.defaults['fused'] and not plain.optimizer.defaults['fused']
    _, inputs = windows(models[0])
    data = [dict(gt_labels=torch.tensor([0, 2]), gt_segments=torch.tensor([[0.1, 0.3], [0.5, 0.9]]), **s)
            for s in samples(2)]
    # One step: later steps would compare Adam's normalisation of pure rounding noise (e.g. the gradient of a
    # conv bias followed by GroupNorm is zero up to rounding, and Adam scales any noise up to +-lr).
    for model, wrapper in ((models[0], fused), (models[1], plain)):
        torch.manual_seed(0)  # the same dropout masks in both
        loss, _ = model.parse_losses(model(inputs, data, mode='loss'))
        wrapper.update_params(loss)
    moved = [(p - q).abs().max() for p, q in zip(models[0].parameters(), _model(tiny_clip_ckpt).parameters())]
    assert max(moved) > 1e-5  # the step did move the parameters
    for (name, p), q in zip(models[0].named_parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5, msg=lambda m, n=name: f'{n}: {m}')


def test_bf16_autocast_inference_is_close_and_leaves_text_float32(tiny_clip_ckpt):
    model = _model(tiny_clip_ckpt)
    _, inputs = windows(model)
    names = samples(1)[0]['classes']
    with torch.no_grad():
        ref = model(inputs, samples(2), mode='predict')
        text = model.classifier.text_embeddings(names).clone()
        model.classifier.text_encoder.clear_cache()  # the bf16 run computes (and caches) the text afresh
        model.test_cfg['autocast'] = 'bfloat16'
        fast = model(inputs, samples(2), mode='predict')
        cached = model.classifier.text_embeddings(names)
    assert cached.dtype == torch.float32
    torch.testing.assert_close(cached, text, atol=0, rtol=0)
    for a, b in zip(ref, fast):
        assert b['scores'].dtype == a['scores'].dtype
        # bf16 keeps 8 bits of mantissa: scores within a few 1e-3 of float32, not equal
        assert abs(a['scores'].max() - b['scores'].max()) < 2e-2
        assert not (a['scores'] == b['scores']).all()


def test_unknown_autocast_dtype_is_rejected(tiny_clip_ckpt):
    cfg = tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt)
    cfg['test_cfg'] = dict(cfg.get('test_cfg') or {}, autocast='int8')
    with pytest.raises(ValueError, match='model.test_cfg.autocast'):
        MODELS.build(cfg)


@pytest.mark.parametrize('native', [True, False])
def test_auto_autocast_is_bf16_only_where_the_cpu_has_native_bf16(tiny_clip_ckpt, monkeypatch, native):
    from zeetad.models import inference_utils as zeetad_module
    monkeypatch.setattr(zeetad_module, 'native_bf16', lambda device_type='cpu': native)
    assert zeetad_module.resolve_autocast('auto') == ('bfloat16' if native else None)
    assert zeetad_module.resolve_autocast(None) is None and zeetad_module.resolve_autocast('float16') == 'float16'
    model = _model(tiny_clip_ckpt)
    _, inputs = windows(model)
    out = {}
    with torch.no_grad():
        for autocast in ('auto', 'bfloat16', None):
            model.test_cfg['autocast'] = autocast
            out[autocast] = model(inputs, samples(2), mode='predict')
    same = out['bfloat16'] if native else out[None]
    for a, b in zip(out['auto'], same):  # 'auto' is exactly one of the two paths
        for key in ('scores', 'segments', 'labels'):
            assert (a[key] == b[key]).all(), key


def test_native_bf16_follows_the_cpu_flags(monkeypatch):
    from zeetad.models.inference_utils import native_bf16
    monkeypatch.setattr(torch.cpu, '_is_avx512_bf16_supported', lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: False, raising=False)
    assert not native_bf16('cpu')
    monkeypatch.setattr(torch.cpu, '_is_amx_tile_supported', lambda: True, raising=False)
    assert native_bf16('cpu') and not native_bf16('cuda')
    monkeypatch.delattr(torch.cpu, '_is_avx512_bf16_supported')  # an older torch without the probes
    monkeypatch.delattr(torch.cpu, '_is_amx_tile_supported')
    assert not native_bf16('cpu')
