"""SinePositionalEncoding1D: shapes, values, padding invariance."""
import math

import pytest
import torch

from zeetad.models.layers import SinePositionalEncoding1D
from zeetad.registry import MODELS


def test_shape_and_raw_values():
    pe = SinePositionalEncoding1D(6, temperature=100., normalize=False)
    enc = pe(torch.zeros(2, 5, dtype=torch.bool))
    assert enc.shape == (2, 6, 5) and enc.dtype == torch.float32
    pos = torch.arange(1, 6, dtype=torch.float32)
    for k in range(3):
        freq = 100.**(-2 * k / 6)
        torch.testing.assert_close(enc[0, 2 * k], torch.sin(pos * freq))
        torch.testing.assert_close(enc[0, 2 * k + 1], torch.cos(pos * freq))


def test_normalised_by_valid_length():
    pe = SinePositionalEncoding1D(4, offset=-0.5)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[1, 4:] = True
    enc = pe(mask)
    # Sample centres (t + 0.5) / T_valid * 2 pi on the fastest channel.
    for b, valid in enumerate((8, 4)):
        pos = (torch.arange(valid) + 0.5) / valid * 2 * math.pi
        torch.testing.assert_close(enc[b, 0, :valid], torch.sin(pos), atol=1e-5, rtol=0)


def test_same_encoding_whatever_the_padding():
    pe = SinePositionalEncoding1D(8)
    alone = pe(torch.zeros(1, 5, dtype=torch.bool))
    mask = torch.zeros(1, 9, dtype=torch.bool)
    mask[0, 5:] = True
    torch.testing.assert_close(pe(mask)[..., :5], alone, atol=1e-6, rtol=0)


def test_dtype_and_config():
    pe = MODELS.build(dict(type='SinePositionalEncoding1D', num_feats=4))
    assert pe(torch.zeros(1, 3, dtype=torch.bool), torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match='even'):
        SinePositionalEncoding1D(5)
