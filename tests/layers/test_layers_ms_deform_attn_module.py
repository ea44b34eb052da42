"""MultiScaleDeformableAttention1D: init, reference semantics, masks."""
import pytest
import torch

from zeetad.models.layers import MultiScaleDeformableAttention1D, ms_deform_attn_1d_naive
from zeetad.registry import MODELS


def level_index(lengths):
    shapes = torch.tensor(lengths, dtype=torch.long)
    return shapes, torch.cat((shapes.new_zeros(1), shapes.cumsum(0)[:-1]))


def randomise(attn: MultiScaleDeformableAttention1D, seed: int = 0) -> None:
    """Non-trivial offsets and attention weights (init makes them query-independent)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for lin in (attn.sampling_offsets, attn.attention_weights):
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=g) * 0.3)


def test_registered_and_built_from_config():
    attn = MODELS.build(dict(type='MultiScaleDeformableAttention1D', embed_dim=8, num_heads=2, num_levels=3,
                             num_points=2))
    assert isinstance(attn, MultiScaleDeformableAttention1D)
    assert attn.sampling_offsets.out_features == 2 * 3 * 2


def test_embed_dim_must_split_into_heads():
    with pytest.raises(ValueError, match='divisible'):
        MultiScaleDeformableAttention1D(10, 4, 1, 2)


# TadTR's initial sampling directions, cos(4 pi h / H) per head h (models/ops/temporal_deform_attn/
# temporal_deform_attn.py, _reset_parameters), written out by hand.
TADTR_DIRECTIONS = {
    1: [1.],
    2: [1., 1.],
    3: [1., -0.5, -0.5],
    4: [1., -1., 1., -1.],
    8: [1., 0., -1., 0., 1., 0., -1., 0.],
}


@pytest.mark.parametrize('heads', sorted(TADTR_DIRECTIONS))
def test_init_like_tadtr(heads):
    levels, points = 2, 3
    attn = MultiScaleDeformableAttention1D(8 * heads, heads, levels, points)
    bias = attn.sampling_offsets.bias.detach().view(heads, levels, points)
    for h, direction in enumerate(TADTR_DIRECTIONS[heads]):
        for lvl in range(levels):
            for k in range(points):
                # point k at (k + 1) times its head's direction, the same on every level
                assert abs(float(bias[h, lvl, k]) - direction * (k + 1)) < 1e-6, (h, lvl, k)
    assert attn.sampling_offsets.weight.abs().sum() == 0
    assert attn.attention_weights.weight.abs().sum() == 0 and attn.attention_weights.bias.abs().sum() == 0
    assert attn.value_proj.bias.abs().sum() == 0 and attn.output_proj.bias.abs().sum() == 0


def test_init_sampling_locations_for_centre_and_segment_references():
    attn = MultiScaleDeformableAttention1D(8, 4, 2, 2)
    shapes = torch.tensor([10, 5])
    query = torch.randn(1, 1, 8)
    centre = torch.tensor([0.4, 0.6]).view(1, 1, 2, 1)
    loc = attn.sampling_locations(query, centre, shapes).detach()[0, 0]  # (H, L, P)
    # Heads 0 and 2 look forward, 1 and 3 backward; point k is k + 1 steps away on each level.
    assert loc.shape == (4, 2, 2)
    for h, sign in enumerate([1, -1, 1, -1]):
        for lvl, (c, T) in enumerate([(0.4, 10), (0.6, 5)]):
            for k in range(2):
                assert abs(float(loc[h, lvl, k]) - (c + sign * (k + 1) / T)) < 1e-6
    segment = torch.tensor([[0.4, 0.2], [0.6, 0.1]]).view(1, 1, 2, 2)
    loc = attn.sampling_locations(query, segment, shapes).detach()[0, 0]
    # In segment units: point k at (k + 1) / P of the half width, so the last one sits on a boundary.
    for h, sign in enumerate([1, -1, 1, -1]):
        for lvl, (c, w) in enumerate([(0.4, 0.2), (0.6, 0.1)]):
            assert abs(float(loc[h, lvl, 0]) - (c + sign * w / 4)) < 1e-6
            assert abs(float(loc[h, lvl, 1]) - (c + sign * w / 2)) < 1e-6
    with pytest.raises(ValueError, match='reference_points'):
        attn.sampling_locations(query, torch.zeros(1, 1, 2, 3), shapes)


def test_segment_reference_of_width_2P_over_T_equals_centre_reference():
    P, T = 3, 12
    attn = MultiScaleDeformableAttention1D(8, 2, 1, P)
    randomise(attn)
    shapes, starts = level_index([T])
    query, value = torch.randn(2, 4, 8), torch.randn(2, T, 8)
    centre = torch.rand(2, 4, 1, 1)
    segment = torch.cat((centre, torch.full_like(centre, 2 * P / T)), -1)
    torch.testing.assert_close(attn(query, centre, value, shapes, starts), attn(query, segment, value, shapes, starts),
                               atol=1e-6, rtol=0)


def test_forward_equals_projections_around_the_naive_loop():
    H, L, P = 2, 2, 3
    attn = MultiScaleDeformableAttention1D(8, H, L, P)
    randomise(attn)
    shapes, starts = level_index([6, 3])
    query, value = torch.randn(2, 5, 8), torch.randn(2, 9, 8)
    ref = torch.rand(2, 5, L, 2)
    out = attn(query, ref, value, shapes, starts)
    v = attn.value_proj(value).view(2, 9, H, 4)
    weights = attn.attention_weights(query).view(2, 5, H, L * P).softmax(-1).view(2, 5, H, L, P)
    # Deformable DETR's segment-reference rule, written here rather than taken from the module:
    # centre + offset / P * width / 2.
    offsets = attn.sampling_offsets(query).view(2, 5, H, L, P)
    loc = ref[:, :, None, :, None, 0] + offsets / P * ref[:, :, None, :, None, 1] / 2
    expected = attn.output_proj(ms_deform_attn_1d_naive(v, shapes, starts, loc, weights))
    assert out.shape == (2, 5, 8)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_padded_values_change_nothing():
    attn = MultiScaleDeformableAttention1D(8, 2, 2, 4)
    randomise(attn)
    shapes, starts = level_index([8, 4])
    query, value = torch.randn(2, 6, 8), torch.randn(2, 12, 8)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[1, 5:8] = True  # level 0 valid length 5
    mask[1, 11:] = True  # level 1 valid length 3
    ref = torch.rand(2, 6, 2, 1) * 1.2 - 0.1
    out = attn(query, ref, value, shapes, starts, mask)
    noisy = value.masked_fill(mask[..., None], 1e3)
    torch.testing.assert_close(attn(query, ref, noisy, shapes, starts, mask), out, atol=0, rtol=0)
    # Without the mask the padded values would matter.
    assert not torch.allclose(attn(query, ref, noisy, shapes, starts), out)


def test_level_count_is_checked():
    attn = MultiScaleDeformableAttention1D(8, 2, 2, 2)
    shapes, starts = level_index([4])
    with pytest.raises(ValueError, match='levels'):
        attn(torch.randn(1, 2, 8), torch.rand(1, 2, 1, 1), torch.randn(1, 4, 8), shapes, starts)


def test_gradients_reach_offsets_and_weights():
    attn = MultiScaleDeformableAttention1D(8, 2, 1, 2)
    randomise(attn)
    shapes, starts = level_index([7])
    out = attn(torch.randn(2, 3, 8), torch.rand(2, 3, 1, 2), torch.randn(2, 7, 8), shapes, starts)
    out.square().sum().backward()
    for p in attn.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
