"""Helpers and fixtures of the ZEAL tests (imported by name; deliberately not a second conftest.py)."""
import importlib.util
import logging
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_tiny_dataset(root, **kwargs) -> dict:
    """``tests/conftest.py``'s toy dataset writer, loaded by path so no module name is shadowed."""
    spec = importlib.util.spec_from_file_location('zeal_tests_root_conftest', ROOT / 'tests' / 'conftest.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_dataset(Path(root), **kwargs)


@pytest.fixture(scope='session')
def tiny_lvlm_dir(tmp_path_factory):
    """A randomly initialised LLaVA saved with its processor and a word-level tokenizer built here."""
    pytest.importorskip('transformers')
    from zeetad.testing.tiny_lvlm import make_tiny_lvlm
    return make_tiny_lvlm(str(tmp_path_factory.mktemp('lvlm') / 'tiny-llava'), seed=0)


@pytest.fixture(scope='session')
def zeal_tiny_clip_ckpt(tmp_path_factory):
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, make_random_clip_checkpoint
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init
    return make_random_clip_checkpoint(str(tmp_path_factory.mktemp('clip') / 'tiny_clip.pt'), TINY_CLIP_CONFIG)


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """Tiny models run faster single-threaded (no OpenMP barrier waits on a busy CPU); restored afterwards."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
