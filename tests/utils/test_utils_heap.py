"""zeetad.utils.heap: glibc's mmap/trim thresholds raised once per process, with an opt-out."""
import sys

import pytest

from zeetad.utils import heap


class FakeLibc:
    def __init__(self, ok=1):
        self.calls, self.ok = [], ok

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.ok


@pytest.fixture
def fake(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(heap, '_applied', False)
    monkeypatch.setattr(heap.ctypes, 'CDLL', lambda name: libc)
    monkeypatch.setattr(sys, 'platform', 'linux')
    monkeypatch.delenv('ZEETAD_RETAIN_HEAP', raising=False)
    return libc


def test_sets_both_thresholds_once(fake):
    assert heap.retain_freed_heap() is True
    assert fake.calls == [(-3, heap.MMAP_THRESHOLD), (-1, heap.TRIM_THRESHOLD)]
    assert heap.retain_freed_heap() is True and len(fake.calls) == 2  # idempotent


def test_opt_out_and_refusal(fake, monkeypatch):
    monkeypatch.setenv('ZEETAD_RETAIN_HEAP', '0')
    assert heap.retain_freed_heap() is False and fake.calls == []
    monkeypatch.delenv('ZEETAD_RETAIN_HEAP')
    fake.ok = 0  # glibc refused the value
    assert heap.retain_freed_heap() is False


def test_no_glibc_is_a_no_op(monkeypatch):
    monkeypatch.setattr(heap, '_applied', False)
    monkeypatch.delenv('ZEETAD_RETAIN_HEAP', raising=False)

    def missing(name):
        raise OSError(name)
    monkeypatch.setattr(heap.ctypes, 'CDLL', missing)
    assert heap.retain_freed_heap() is False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc only')
def test_real_glibc_accepts_the_values(monkeypatch):
    monkeypatch.setattr(heap, '_applied', False)
    monkeypatch.delenv('ZEETAD_RETAIN_HEAP', raising=False)
    assert heap.retain_freed_heap() is True
