import copy

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmengine.runner.checkpoint import load_state_dict as mmengine_load_state_dict

from zeetad.text import encode_class_names
from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG

NAMES = ['HighJump', 'LongJump', 'CleanAndJerk']


def _perturb_adapters(enc, seed=0, std=0.05):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in enc.adapters.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * std)


def test_zero_init_adapters_leave_embeddings_unchanged(make_encoder, frozen_encoder):
    plain = frozen_encoder.encode(NAMES)
    adapted = make_encoder(num_adapter_blocks=4, adapter_width=16).eval()
    torch.testing.assert_close(adapted.encode(NAMES), plain, atol=0, rtol=0)
    # Not bit-exact when the last block runs for the pooled token only (float sums in another order).
    adapted.pooled_last_block = True
    adapted.clear_cache()
    torch.testing.assert_close(adapted.encode(NAMES), plain, atol=1e-6, rtol=0)
    adapted.pooled_last_block = False
    _perturb_adapters(adapted)
    adapted.clear_cache()
    assert (adapted.encode(NAMES) - plain).abs().max() > 1e-3


def test_gradients_reach_adapters_only(make_encoder):
    enc = make_encoder(num_adapter_blocks=2, adapter_width=8).train()
    target = torch.randn(3, enc.embed_dim)
    loss = (enc.encode(NAMES) * target).sum()
    loss.backward()
    for name, p in enc.named_parameters():
        if name.startswith('adapters.'):
            assert p.grad is not None, name
        else:
            assert p.grad is None, name
    # Zero-initialised up-projections: they get the signal first.
    assert all(a.up.weight.grad.abs().sum() > 0 for a in enc.adapters)


def test_cache_hit_when_frozen_or_eval(make_encoder):
    frozen = make_encoder().train()  # nothing trains: cached even in train mode
    assert frozen.encode(NAMES) is frozen.encode(NAMES)
    assert frozen.encode(NAMES[:2]) is not frozen.encode(NAMES)

    enc = make_encoder(num_adapter_blocks=1, adapter_width=8).eval()
    first = enc.encode(NAMES)
    assert enc.encode(NAMES) is first and not first.requires_grad
    enc.train()
    a, b = enc.encode(NAMES), enc.encode(NAMES)
    assert a is not b and a.requires_grad
    torch.testing.assert_close(a, first, atol=0, rtol=0)


def test_no_stale_cache_after_train_step(make_encoder):
    enc = make_encoder(num_adapter_blocks=2, adapter_width=8)
    opt = torch.optim.SGD([p for p in enc.parameters() if p.requires_grad], lr=1.0)
    before = enc.eval().encode(NAMES).clone()
    enc.train()
    for _ in range(2):
        opt.zero_grad()
        (enc.encode(NAMES) * torch.ones(enc.embed_dim)).sum().neg().backward()
        opt.step()
    after_train = enc.encode(NAMES).detach()
    after = enc.eval().encode(NAMES)
    assert (after - before).abs().max() > 1e-3
    torch.testing.assert_close(after, after_train, atol=1e-6, rtol=0)
    # An in-place update while in eval mode (no train() call) is also seen.
    _perturb_adapters(enc, seed=1)
    assert (enc.encode(NAMES) - after).abs().max() > 1e-3


def test_prefix_cache_only_while_adapters_train(make_encoder):
    enc = make_encoder(num_adapter_blocks=1, adapter_width=8).train()
    ref = make_encoder(num_adapter_blocks=1, adapter_width=8, cache_size=0).train()
    out = enc.encode(NAMES)
    assert len(enc._prefix_cache) == 1
    prefix = next(iter(enc._prefix_cache.values()))
    tokens = enc.tokenize(enc.prompts(NAMES)[0])
    assert not prefix.requires_grad
    assert prefix.shape[:2] == (3, int(tokens.argmax(-1).max()) + 1) == (3, 12)  # truncated
    torch.testing.assert_close(enc.encode(NAMES), out, atol=0, rtol=0)
    torch.testing.assert_close(ref.encode(NAMES), out, atol=0, rtol=0)
    assert len(ref._prefix_cache) == 0 and len(ref._embed_cache) == 0
    enc.eval()
    enc.encode(NAMES[:2])
    assert len(enc._prefix_cache) == 1  # eval: final embeddings cached instead


def test_load_state_dict_invalidates_cache(make_encoder):
    src = make_encoder(num_adapter_blocks=2, adapter_width=8).eval()
    _perturb_adapters(src)
    expected = src.encode(NAMES)
    for loader in ('torch', 'mmengine'):
        dst = make_encoder(num_adapter_blocks=2, adapter_width=8).eval()
        stale = dst.encode(NAMES)
        if loader == 'torch':
            dst.load_state_dict(src.state_dict())
        else:
            mmengine_load_state_dict(dst, src.state_dict(), strict=True)
        got = dst.encode(NAMES)
        assert got is not stale
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_deepcopy_and_to(make_encoder):
    enc = make_encoder(num_adapter_blocks=1, adapter_width=8).eval()
    _perturb_adapters(enc)
    emb = enc.encode(NAMES)
    clone = copy.deepcopy(enc)
    torch.testing.assert_close(clone.encode(NAMES), emb, atol=0, rtol=0)
    enc.double()
    assert not enc._embed_cache
    assert enc.encode(NAMES).dtype == torch.float32


def test_encode_class_names_builds_from_config(tiny_clip_ckpt, frozen_encoder):
    cfg = dict(type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG, pretrained=tiny_clip_ckpt)
    with DefaultScope.overwrite_default_scope('zeetad'):
        arr = encode_class_names(cfg, NAMES)  # by registry name
    untyped = encode_class_names({k: v for k, v in cfg.items() if k != 'type'}, NAMES)  # class default
    assert arr.dtype == np.float32 and arr.shape == (3, 256)
    np.testing.assert_allclose(np.linalg.norm(arr, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(arr, frozen_encoder.encode(NAMES).numpy(), atol=1e-6)
    np.testing.assert_array_equal(arr, untyped)
