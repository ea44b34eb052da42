"""DeformableTransformer1D: shapes, refinement, padding invariance."""
import pytest
import torch
from torch import nn

from zeetad.models.layers import MLP, MultiScaleDeformableAttention1D
from zeetad.models.localizers.deformable_transformer import (DeformableTransformer1D, encoder_reference_points,
                                                             valid_ratios)
from zeetad.registry import MODELS

SMALL = dict(d_model=16, nhead=2, num_points=2, enc_layers=2, dec_layers=3, dim_ff=32, num_queries=6)


def build(**kwargs) -> DeformableTransformer1D:
    torch.manual_seed(0)
    return MODELS.build(dict(type='DeformableTransformer1D', **{**SMALL, **kwargs}))


def perturb(model: DeformableTransformer1D) -> DeformableTransformer1D:
    """Move the zero-initialised parts (segment deltas, query-dependent offsets and weights) off zero."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, MultiScaleDeformableAttention1D):
                for lin in (m.sampling_offsets, m.attention_weights):
                    lin.weight.copy_(torch.randn(lin.weight.shape, generator=g) * 0.2)
        for head in model.segment_heads:
            head.layers[-1].weight.copy_(torch.randn(head.layers[-1].weight.shape, generator=g) * 0.1)
    return model


def pyramid(lengths, padded, num_levels, C=16, seed=0):
    """Per-sample random levels (length ceil(T / 2**l)), padded with garbage to ``padded``."""
    g = torch.Generator().manual_seed(seed)
    feats, masks = [], []
    for lvl in range(num_levels):
        size = -(-padded // 2**lvl)
        x = torch.randn(len(lengths), C, size, generator=g) * 10  # padding garbage
        m = torch.ones(len(lengths), size, dtype=torch.bool)
        for b, T in enumerate(lengths):
            valid = -(-T // 2**lvl)
            x[b, :, :valid] = torch.randn(C, valid, generator=torch.Generator().manual_seed(1000 * b + lvl + seed))
            m[b, :valid] = False
        feats.append(x)
        masks.append(m)
    return feats, masks


@pytest.mark.parametrize('num_levels', [1, 2, 3, 4])
def test_output_shapes_and_ranges(num_levels):
    model = build(num_levels=num_levels)
    feats, masks = pyramid([20, 13], 20, num_levels)
    out = model(feats, masks)
    S = sum(f.shape[2] for f in feats)
    assert out['memory'].shape == (2, S, 16) and out['memory_mask'].shape == (2, S)
    assert out['spatial_shapes'].tolist() == [f.shape[2] for f in feats]
    assert out['level_start_index'].tolist()[0] == 0 and len(out['level_start_index']) == num_levels
    assert out['valid_ratios'].shape == (2, num_levels)
    assert out['hidden_states'].shape == (3, 2, 6, 16)
    assert out['segments'].shape == (3, 2, 6, 2) and 'init_reference' not in out  # dead output, removed
    assert ((out['segments'] > 0) & (out['segments'] < 1)).all()
    assert (out['memory'][out['memory_mask']] == 0).all()


def test_initial_references_and_zero_init_heads():
    model = build(init_width=0.2)
    out = model(*pyramid([12], 12, 1))
    query_pos = model.query_embed.weight.split(model.d_model, dim=1)[0]
    init = model.reference_head(query_pos).sigmoid()[None].expand(out['segments'].shape[1:])
    torch.testing.assert_close(init[..., 1], torch.full_like(init[..., 1], 0.2))
    assert init[..., 0].std() > 0.05  # centres spread by the query embeddings
    # Zero-init heads keep the reference at the first layer.
    torch.testing.assert_close(out['segments'][0], init, atol=1e-6, rtol=0)


def test_refinement_detaches_between_layers():
    model = perturb(build())  # non-zero deltas so the reference chain matters
    feats, masks = pyramid([12, 9], 12, 1)
    out = model(feats, masks)
    heads = model.segment_heads
    out['segments'][-1].sum().backward(retain_graph=True)
    for head in heads[:-1]:
        assert all(p.grad is None or p.grad.abs().sum() == 0 for p in head.parameters())
    assert heads[-1].layers[-1].weight.grad.abs().sum() > 0
    model.zero_grad()
    out['segments'][0].sum().backward()
    assert heads[0].layers[-1].weight.grad.abs().sum() > 0
    assert model.reference_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('num_levels', [1, 3])
def test_padding_in_the_batch_changes_nothing(num_levels):
    model = perturb(build(num_levels=num_levels)).eval()
    batch = model(*pyramid([11, 24], 24, num_levels))
    alone = model(*pyramid([11], 11, num_levels))
    for key in ('hidden_states', 'segments'):
        torch.testing.assert_close(batch[key][:, :1], alone[key], atol=1e-5, rtol=0)
    valid = ~batch['memory_mask'][0]
    torch.testing.assert_close(batch['memory'][0][valid], alone['memory'][0], atol=1e-5, rtol=0)


def test_encoder_reference_points_hit_sample_centres():
    masks = [torch.tensor([[False] * 6 + [True] * 2]), torch.tensor([[False] * 3 + [True]])]
    ratios = valid_ratios(masks)
    torch.testing.assert_close(ratios, torch.tensor([[0.75, 0.75]]))
    ref = encoder_reference_points([8, 4], ratios)
    assert ref.shape == (1, 12, 2, 1)
    torch.testing.assert_close(ref[0, :8, 0, 0], (torch.arange(8) + 0.5) / 8)
    torch.testing.assert_close(ref[0, 8:, 1, 0], (torch.arange(4) + 0.5) / 4)
    # Level-1 position 1 (video time 1.5 / 3 = 0.5) seen from level 0: index 0.5 * 6 = 3 steps in.
    torch.testing.assert_close(ref[0, 9, 0, 0], torch.tensor(3 / 8))


def test_variants_build_and_run():
    feats, masks = pyramid([10, 7], 10, 2)
    for kwargs in (dict(norm_first=True), dict(enc_layers=0), dict(share_segment_head=True),
                   dict(activation='gelu', segment_head=dict(num_layers=2)), dict(segment_head=nn.Linear(16, 2))):
        model = build(num_levels=2, **kwargs)
        out = model(feats, masks)
        assert out['segments'].shape == (3, 2, 6, 2), kwargs
    shared = build(share_segment_head=True)
    assert sum(p.numel() for p in shared.segment_heads.parameters()) == sum(
        p.numel() for p in shared.segment_heads[0].parameters())
    assert isinstance(build().segment_heads[1], MLP)
    assert build(segment_head=dict(num_layers=2)).segment_heads[0].layers[-1].in_features == 16


def test_no_masks_means_no_padding():
    model = perturb(build()).eval()
    feats, masks = pyramid([9, 9], 9, 1)
    torch.testing.assert_close(model(feats)['segments'], model(feats, masks)['segments'])


def test_input_checks():
    model = build(num_levels=2)
    with pytest.raises(ValueError, match='levels'):
        model(*pyramid([8], 8, 1))
    with pytest.raises(ValueError, match='channels'):
        model(*pyramid([8], 8, 2, C=8))
    with pytest.raises(ValueError, match='dec_layers'):
        build(dec_layers=0)


def test_default_hyper_parameters_thumos_window():
    model = DeformableTransformer1D().eval()
    assert (model.d_model, model.num_queries, len(model.encoder), len(model.decoder)) == (256, 40, 4, 4)
    with torch.no_grad():
        out = model([torch.randn(2, 256, 128)], [torch.zeros(2, 128, dtype=torch.bool)])
    assert out['segments'].shape == (4, 2, 40, 2) and torch.isfinite(out['hidden_states']).all()


def test_float64_end_to_end():
    model = build(num_levels=2).double()
    feats, masks = pyramid([10, 7], 10, 2)
    out = model([f.double() for f in feats], masks)
    assert out['segments'].dtype == out['memory'].dtype == out['valid_ratios'].dtype == torch.float64
