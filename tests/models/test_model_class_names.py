"""ZEETAD's class-name handling at test time: the shuffled-names control's permutation and its log line."""
import signal
from types import SimpleNamespace

import numpy as np
import pytest

from zeetad.models.zeetad import DEFAULT_TEST_CFG, ZEETAD


def names_of(k):
    return [f'class_{i}' for i in range(k)]


def class_names(k, seed, **cfg):
    """``ZEETAD._class_names`` on a bare object: no model needs building to test the name mapping."""
    fake = SimpleNamespace(test_cfg={**DEFAULT_TEST_CFG, 'shuffle_class_names': True, 'shuffle_seed': seed, **cfg})
    return ZEETAD._class_names(fake, [{'classes': tuple(names_of(k))}], training=False)


@pytest.fixture
def fail_after_10s():
    # The old derangement loop never returned for some seeds (K=5: 19, 37): fail instead of hanging.
    def stop(*_):
        raise TimeoutError('shuffled class names did not terminate')
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_shuffle_is_a_deterministic_derangement_for_every_seed(fail_after_10s):
    for k in range(2, 10):
        names = names_of(k)
        for seed in range(201):
            labels, text = class_names(k, seed)
            assert labels == names  # label k keeps its meaning; only the text it is scored with moves
            assert sorted(text) == names  # a permutation
            assert all(a != b for a, b in zip(text, names)), (k, seed)  # no fixed point
            assert class_names(k, seed) == (labels, text)  # same seed, same mapping
    # Seeds do change the mapping (K=4 has 6 single cycles).
    assert len({tuple(class_names(4, s)[1]) for s in range(50)}) == 6


def test_one_name_is_scored_with_an_unrelated_name_and_no_shuffle_is_left_alone():
    from zeetad.text.unrelated_names import UNRELATED_ACTION_NAMES
    texts = {class_names(1, seed)[1][0] for seed in range(5)}
    assert class_names(1, 0)[0] == ['class_0'] and len(texts) == 5 and texts <= set(UNRELATED_ACTION_NAMES)
    assert class_names(3, 0, shuffle_class_names=False) == (names_of(3), names_of(3))
    open_vocab = ['a person falling', 'high jump']
    assert class_names(3, 0, shuffle_class_names=False, class_names=open_vocab) == (open_vocab, open_vocab)


def test_shuffled_run_logs_its_mapping_once(monkeypatch):
    logged = []
    monkeypatch.setattr('zeetad.models.zeetad.print_log', lambda msg, **kw: logged.append(msg))
    fake = SimpleNamespace(test_cfg={**DEFAULT_TEST_CFG, 'shuffle_class_names': True, 'shuffle_seed': 3})
    samples = [{'classes': ('a', 'b', 'c')}]
    _, text = ZEETAD._class_names(fake, samples, training=False)
    ZEETAD._class_names(fake, samples, training=False)
    assert len(logged) == 1 and 'shuffle_class_names' in logged[0] and 'seed 3' in logged[0]
    assert all(f"'{a}' -> text of '{b}'" in logged[0] for a, b in zip('abc', text))
