"""Text fixtures (the tiny random CLIP checkpoint itself lives in tests/conftest.py)."""
import pytest

from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG

THUMOS14_CLASSES = [
    'BaseballPitch', 'BasketballDunk', 'Billiards', 'CleanAndJerk', 'CliffDiving', 'CricketBowling',
    'CricketShot', 'Diving', 'FrisbeeCatch', 'GolfSwing', 'HammerThrow', 'HighJump', 'JavelinThrow',
    'LongJump', 'PoleVault', 'Shotput', 'SoccerPenalty', 'TennisSwing', 'ThrowDiscus', 'VolleyballSpiking'
]


@pytest.fixture
def make_encoder(tiny_clip_ckpt):
    """Factory for CLIPTextEncoders loaded from the tiny checkpoint."""
    from zeetad.text import CLIPTextEncoder

    def make(**kwargs):
        kwargs.setdefault('model_config_file', TINY_CLIP_CONFIG)
        kwargs.setdefault('pretrained', tiny_clip_ckpt)
        return CLIPTextEncoder(**kwargs)

    return make


@pytest.fixture(scope='session')
def thumos_classes():
    return list(THUMOS14_CLASSES)


@pytest.fixture(scope='session')
def frozen_encoder(tiny_clip_ckpt):
    """A shared eval-mode encoder without adapters; tests must not modify it."""
    from zeetad.text import CLIPTextEncoder
    return CLIPTextEncoder(model_config_file=TINY_CLIP_CONFIG, pretrained=tiny_clip_ckpt).eval()
