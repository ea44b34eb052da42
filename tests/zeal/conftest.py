"""Shared fixtures of the ZEAL tests: a tiny random LVLM folder and a tiny random CLIP checkpoint."""
import logging

import pytest


@pytest.fixture(scope='session')
def tiny_lvlm_dir(tmp_path_factory):
    """A randomly initialised LLaVA saved with its processor and a word-level tokenizer built here."""
    pytest.importorskip('transformers')
    from zeetad.zeal.tiny_lvlm import make_tiny_lvlm
    return make_tiny_lvlm(str(tmp_path_factory.mktemp('lvlm') / 'tiny-llava'), seed=0)


@pytest.fixture(scope='session')
def zeal_tiny_clip_ckpt(tmp_path_factory):
    from zeetad.text import TINY_CLIP_CONFIG, make_random_clip_checkpoint
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init
    return make_random_clip_checkpoint(str(tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'), TINY_CLIP_CONFIG)
