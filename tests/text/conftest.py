"""Shared fixtures: one tiny random CLIP checkpoint per test session."""
import logging

import pytest

from zeetad.text import TINY_CLIP_CONFIG, build_random_clip, make_random_clip_checkpoint

THUMOS14_CLASSES = [
    'BaseballPitch', 'BasketballDunk', 'Billiards', 'CleanAndJerk', 'CliffDiving', 'CricketBowling',
    'CricketShot', 'Diving', 'FrisbeeCatch', 'GolfSwing', 'HammerThrow', 'HighJump', 'JavelinThrow',
    'LongJump', 'PoleVault', 'Shotput', 'SoccerPenalty', 'TennisSwing', 'ThrowDiscus', 'VolleyballSpiking'
]


@pytest.fixture(scope='session')
def tiny_clip_model():
    """The in-memory random tiny CLIP (seed 0) that the checkpoint holds."""
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init
    return build_random_clip(TINY_CLIP_CONFIG, seed=0)


@pytest.fixture(scope='session')
def tiny_clip_ckpt(tmp_path_factory, tiny_clip_model):
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'
    return make_random_clip_checkpoint(str(path), TINY_CLIP_CONFIG, model=tiny_clip_model)


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
