"""The 1-D deformable attention core: every implementation against the naive loop."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from zeetad.models.layers import ms_deform_attn_func as func
from zeetad.models.layers.ms_deform_attn_func import (ms_deform_attn_1d, ms_deform_attn_1d_fused,
                                                      ms_deform_attn_1d_naive, ms_deform_attn_1d_pytorch)

METHODS = ['dense', 'gather', 'grid_sample', 'auto']


def make_inputs(lengths, B=2, Lq=5, H=2, D=3, P=3, dtype=torch.float32, spread=0.3, seed=0):
    """Random inputs; locations reach ``spread`` beyond both ends to exercise the zero padding."""
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(lengths, dtype=torch.long)
    starts = torch.cat((shapes.new_zeros(1), shapes.cumsum(0)[:-1]))
    L, S = len(lengths), sum(lengths)
    value = torch.randn(B, S, H, D, generator=g, dtype=dtype)
    loc = torch.rand(B, Lq, H, L, P, generator=g, dtype=dtype) * (1 + 2 * spread) - spread
    attn = torch.rand(B, Lq, H, L, P, generator=g, dtype=dtype)
    return value, shapes, starts, loc, attn


@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('lengths', [[1], [7], [16], [9, 5], [6, 1, 3], [12, 6, 3, 2]])
def test_matches_naive_loop_float32(method, lengths):
    value, shapes, starts, loc, attn = make_inputs(lengths)
    expected = ms_deform_attn_1d_naive(value, shapes, starts, loc, attn)
    out = ms_deform_attn_1d_pytorch(value, shapes, starts, loc, attn, method=method)
    assert out.shape == (2, 5, 2 * 3)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=4), B=st.integers(1, 2), Lq=st.integers(1, 4),
       H=st.integers(1, 3), P=st.integers(1, 3), seed=st.integers(0, 2**16),
       method=st.sampled_from(['dense', 'gather', 'grid_sample']))
def test_matches_naive_loop_any_shape(lengths, B, Lq, H, P, seed, method):
    value, shapes, starts, loc, attn = make_inputs(lengths, B=B, Lq=Lq, H=H, D=2, P=P, spread=0.6, seed=seed)
    expected = ms_deform_attn_1d_naive(value, shapes, starts, loc, attn)
    out = ms_deform_attn_1d_pytorch(value, shapes, starts, loc, attn, method=method)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize('method', ['dense', 'gather', 'grid_sample'])
def test_gradcheck_float64(method):
    value, shapes, starts, loc, attn = make_inputs([4, 2], B=1, Lq=2, H=2, D=2, P=2, dtype=torch.float64)
    inputs = [t.requires_grad_() for t in (value, loc, attn)]

    def fn(v, l, a):
        return ms_deform_attn_1d_pytorch(v, shapes, starts, l, a, method=method)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


@pytest.mark.parametrize('method', ['dense', 'gather', 'grid_sample'])
def test_gradients_match_naive_loop(method):
    value, shapes, starts, loc, attn = make_inputs([5, 3], dtype=torch.float64)
    weights = torch.randn(2, 5, 6, dtype=torch.float64)
    grads = []
    for fn in (ms_deform_attn_1d_naive, lambda *a: ms_deform_attn_1d_pytorch(*a, method=method)):
        inputs = [t.detach().clone().requires_grad_() for t in (value, loc, attn)]
        (fn(inputs[0], shapes, starts, inputs[1], inputs[2]) * weights).sum().backward()
        grads.append([t.grad for t in inputs])
    for got, expected in zip(grads[1], grads[0]):
        torch.testing.assert_close(got, expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize('method', METHODS)
def test_sample_centres_return_the_value_exactly(method):
    """Location (i + 0.5) / T is sample i: no half-step offset, no blending."""
    T, H, D = 6, 2, 4
    value = torch.randn(1, T, H, D)
    loc = ((torch.arange(T) + 0.5) / T).view(1, T, 1, 1, 1).expand(1, T, H, 1, 1).contiguous()
    attn = torch.ones(1, T, H, 1, 1)
    out = ms_deform_attn_1d_pytorch(value, torch.tensor([T]), torch.tensor([0]), loc, attn, method=method)
    torch.testing.assert_close(out, value.reshape(1, T, H * D), atol=1e-6, rtol=0)


@pytest.mark.parametrize('method', METHODS)
def test_interpolation_and_zero_padding_at_the_edges(method):
    T = 4
    value = torch.tensor([1., 2., 4., 8.]).view(1, T, 1, 1)
    # Continuous index x*T - 0.5: -1.5, -1, -0.5, 0.25, 1.5, 3, 3.5, 4, 10
    index = torch.tensor([-1.5, -1., -0.5, 0.25, 1.5, 3., 3.5, 4., 10.])
    expected = torch.tensor([0., 0., 0.5, 1.25, 3., 8., 4., 0., 0.])
    loc = ((index + 0.5) / T).view(1, -1, 1, 1, 1)
    attn = torch.ones_like(loc)
    out = ms_deform_attn_1d_pytorch(value, torch.tensor([T]), torch.tensor([0]), loc, attn, method=method)
    torch.testing.assert_close(out.view(-1), expected, atol=1e-6, rtol=0)


def test_levels_do_not_leak_into_each_other():
    """Neighbours past a level's ends are zero padding, never the adjacent level's values."""
    value = torch.tensor([1., 1., 100., 100.]).view(1, 4, 1, 1)
    shapes, starts = torch.tensor([2, 2]), torch.tensor([0, 2])
    # Level 0 at index 1.75: 0.25 * v[1] + 0.75 * pad; level 1 at index -0.75: 0.75 * pad + 0.25 * v[0].
    loc = torch.tensor([(1.75 + 0.5) / 2, (-0.75 + 0.5) / 2]).view(1, 1, 1, 2, 1)
    attn = torch.ones_like(loc)
    for method in METHODS:
        out = ms_deform_attn_1d_pytorch(value, shapes, starts, loc, attn, method=method)
        torch.testing.assert_close(out.view(-1), torch.tensor([25.25]), atol=1e-5, rtol=0)


def test_unknown_method_raises():
    value, shapes, starts, loc, attn = make_inputs([3])
    with pytest.raises(ValueError, match='method'):
        ms_deform_attn_1d_pytorch(value, shapes, starts, loc, attn, method='nope')


def _reference_2d_kernel(value, shapes_2d, starts, loc_2d, attn, im2col_step):
    """Stand-in for mmcv's CUDA kernel with its documented 2-D semantics
    (x, y in [0, 1] -> x * W - 0.5, y * H - 0.5; bilinear, zero padding)."""
    B, S, H, D = value.shape
    _, Lq, _, L, P, _ = loc_2d.shape
    assert B % im2col_step == 0 and shapes_2d.shape == (L, 2)
    grids = 2 * loc_2d - 1
    out = 0
    for lvl, ((h, w), start) in enumerate(zip(shapes_2d.tolist(), starts.tolist())):
        v = value[:, start:start + h * w].permute(0, 2, 3, 1).reshape(B * H, D, h, w)
        grid = grids[:, :, :, lvl].transpose(1, 2).reshape(B * H, Lq, P, 2)
        sampled = F.grid_sample(v, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        weight = attn[:, :, :, lvl].transpose(1, 2).reshape(B * H, 1, Lq, P)
        out = out + (sampled * weight).sum(-1)
    return out.view(B, H * D, Lq).transpose(1, 2)


def test_fused_adapter_matches_pytorch_with_a_2d_kernel():
    """The height-1 conversion for a 2-D kernel (mmcv's) gives our 1-D numbers."""
    value, shapes, starts, loc, attn = make_inputs([7, 3, 1], B=6)
    expected = ms_deform_attn_1d_pytorch(value, shapes, starts, loc, attn)
    out = ms_deform_attn_1d_fused(value, shapes, starts, loc, attn, _reference_2d_kernel, im2col_step=4)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_dispatch_uses_pytorch_on_cpu(monkeypatch):
    def kernel_probe():
        raise AssertionError('the fused kernel must not be looked up for CPU tensors')

    monkeypatch.setattr(func, 'mmcv_ms_deform_attn_kernel', kernel_probe)
    value, shapes, starts, loc, attn = make_inputs([5, 2])
    torch.testing.assert_close(
        ms_deform_attn_1d(value, shapes, starts, loc, attn), ms_deform_attn_1d_naive(value, shapes, starts, loc,
                                                                                     attn), atol=1e-5, rtol=0)


class _OnCuda(torch.Tensor):
    """A CPU tensor that reports ``is_cuda``: lets CPU-only CI see which implementation the dispatch picks."""

    @property
    def is_cuda(self):
        return True


def _recording(kernel, calls):
    def run(*args):
        calls.append(args)
        return kernel(*args)
    return run


@pytest.mark.parametrize('use_fused, kernel_present, fused', [(True, True, True), (False, True, False),
                                                              (True, False, False)])
def test_dispatch_on_cuda(monkeypatch, use_fused, kernel_present, fused):
    """On CUDA the fused kernel runs iff it is wanted and installed; otherwise pure PyTorch, same numbers."""
    calls, probes = [], []

    def probe():
        probes.append(1)
        return _recording(_reference_2d_kernel, calls) if kernel_present else None

    monkeypatch.setattr(func, 'mmcv_ms_deform_attn_kernel', probe)
    value, shapes, starts, loc, attn = make_inputs([5, 2])
    out = ms_deform_attn_1d(value.as_subclass(_OnCuda), shapes, starts, loc, attn, use_fused=use_fused)
    assert len(calls) == int(fused)
    assert len(probes) == int(use_fused)  # use_fused=False never even looks for mmcv
    torch.testing.assert_close(out.as_subclass(torch.Tensor), ms_deform_attn_1d_naive(value, shapes, starts, loc,
                                                                                      attn), atol=1e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_cuda_matches_naive_loop_on_cpu():
    """On a real GPU: whatever the dispatch picks (mmcv's kernel when installed) gives the naive numbers."""
    value, shapes, starts, loc, attn = make_inputs([7, 3, 1], B=4)
    expected = ms_deform_attn_1d_naive(value, shapes, starts, loc, attn)
    out = ms_deform_attn_1d(*(x.cuda() for x in (value, shapes, starts, loc, attn)))
    torch.testing.assert_close(out.cpu(), expected, atol=1e-5, rtol=0)


def test_kernel_probe_is_none_without_compiled_mmcv():
    try:
        import mmcv._ext  # noqa: F401
    except Exception:
        assert func.mmcv_ms_deform_attn_kernel() is None
    else:
        pytest.skip('full mmcv installed')


@pytest.mark.parametrize('method', ['dense', 'gather', 'grid_sample'])
def test_far_away_locations_are_zero_with_zero_gradient(method):
    value = torch.randn(1, 5, 1, 2)
    loc = torch.tensor([1e30, -1e30, float('inf'), 3.0]).view(1, 4, 1, 1, 1).requires_grad_()
    out = ms_deform_attn_1d_pytorch(value, torch.tensor([5]), torch.tensor([0]), loc, torch.ones(1, 4, 1, 1, 1),
                                    method=method)
    assert (out == 0).all()
    out.sum().backward()
    assert (loc.grad == 0).all()


@pytest.mark.parametrize('levels, Lq, expected', [([256], 256, 'dense'), ([256], 40, 'dense'),
                                                  ([256, 128, 64, 32], 480, 'dense'), ([512], 512, 'grid_sample'),
                                                  ([2304], 40, 'grid_sample')])
def test_auto_picks_dense_for_short_sequences(levels, Lq, expected):
    L, S = len(levels), sum(levels)
    value = torch.empty(8, S, 8, 32, device='meta')
    loc = torch.empty(8, Lq, 8, L, 4, device='meta')
    assert func._auto_method(value, loc) == expected
