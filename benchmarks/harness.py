"""Small helpers shared by the benchmark tools: timing, peak memory, tables, a network guard.

Everything here is standard library + torch; nothing is imported at ``import zeetad.utils`` time beyond that.
"""
from __future__ import annotations

import contextlib
import os
import platform
import resource
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import torch

__all__ = ['sync', 'time_calls', 'Timing', 'PeakMemory', 'peak_memory', 'rss_mib', 'saved_tensors_mib',
           'format_table', 'no_network', 'NetworkBlocked', 'quiet_stderr', 'load_note', 'set_threads', 'cpu_flags',
           'machine_line']


def sync(device: str | torch.device = 'cpu') -> None:
    """Wait for queued CUDA work so wall-clock timings cover it (no-op on CPU)."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    """Wall-clock seconds of repeated calls."""
    times: list = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float('nan')

    @property
    def best(self) -> float:
        return min(self.times) if self.times else float('nan')

    @property
    def mean(self) -> float:
        return statistics.fmean(self.times) if self.times else float('nan')

    def __len__(self) -> int:
        return len(self.times)


def time_calls(fn: Callable[[], object], repeat: int, warmup: int = 1, device: str | torch.device = 'cpu') -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed (``perf_counter``, synchronised)."""
    for _ in range(warmup):
        fn()
    sync(device)
    out = Timing()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        out.times.append(time.perf_counter() - t0)
    return out


# ---------------------------------------------------------------------------------------------- memory
def _proc_status_kib(key: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float:
    """Current resident set size in MiB (``/proc``; falls back to ``ru_maxrss`` elsewhere)."""
    kib = _proc_status_kib('VmRSS')
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (1024 if sys.platform == 'darwin' else 1)
    return kib / 1024.0


def _maxrss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024.0 ** 2 if sys.platform == 'darwin' else 1024.0)


def _trim_heap() -> None:
    # Hand freed heap pages back to the OS (glibc), so the baseline RSS is close to live memory and not
    # to what earlier steps left cached in the allocator.
    try:
        import ctypes
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    # Linux >= 4.0: writing 5 resets the high-water mark (VmHWM and ru_maxrss) to the current RSS.
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


@dataclass
class PeakMemory:
    """Peak memory of a block, in MiB. ``peak_mib`` is the high-water mark above ``base_mib``."""
    device: str
    method: str = ''
    base_mib: float = 0.0
    peak_mib: float = float('nan')

    @property
    def delta_mib(self) -> float:
        return self.peak_mib - self.base_mib


@contextlib.contextmanager
def peak_memory(device: str | torch.device = 'cpu') -> Iterator[PeakMemory]:
    """Measure the peak memory of the ``with`` block.

    CUDA: ``torch.cuda.max_memory_allocated`` after a reset (tensor memory, exact).
    CPU: torch has no peak-allocation counter for the CPU allocator, so this reads the process's peak RSS:
    freed heap pages are returned to the OS (``malloc_trim``), the high-water mark is reset to the current
    RSS (``/proc/self/clear_refs``), and the block's peak is ``ru_maxrss`` afterwards. It counts pages, not
    tensors: allocator slack is included and memory still cached from before the block is not. Where the
    reset is not allowed, the plain ``ru_maxrss`` delta is reported, only a lower bound (0 if an earlier
    peak was higher).
    """
    device = torch.device(device)
    if device.type == 'cuda':
        sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        rec = PeakMemory('cuda', 'torch.cuda.max_memory_allocated',
                         base_mib=torch.cuda.memory_allocated(device) / 2**20)
        yield rec
        sync(device)
        rec.peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
        return
    _trim_heap()
    reset = _reset_peak_rss()
    base = rss_mib() if reset else _maxrss_mib()
    rec = PeakMemory('cpu', 'peak RSS (clear_refs reset + ru_maxrss)' if reset else 'ru_maxrss delta (lower bound)',
                     base_mib=base)
    yield rec
    rec.peak_mib = max(_maxrss_mib(), base)


@contextlib.contextmanager
def saved_tensors_mib(exclude: Sequence[torch.Tensor] = ()) -> Iterator[dict]:
    """Size of the tensors autograd saves for backward inside the block (the activation memory of a
    training step), in MiB under key ``'mib'``; each storage counted once, storages of ``exclude``
    (e.g. the parameters) left out."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict = {}
    result = {'mib': 0.0, 'tensors': 0}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        result['tensors'] += 1
        if ptr not in skip and ptr not in seen:
            seen[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield result
    result['mib'] = sum(seen.values()) / 2**20


# ---------------------------------------------------------------------------------------------- output
def format_table(header: Sequence[str], rows: Sequence[Sequence], align: Optional[str] = None) -> str:
    """A Markdown pipe table. ``align``: one of ``l``/``r`` per column (default: first left, rest right)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    ncol = len(header)
    if any(len(r) != ncol for r in cells):
        raise ValueError('every row needs one cell per header column')
    align = align or 'l' + 'r' * (ncol - 1)
    widths = [max(len(r[i]) for r in cells) for i in range(ncol)]

    def line(row):
        return '| ' + ' | '.join(c.ljust(w) if a == 'l' else c.rjust(w) for c, w, a in zip(row, widths, align)) + ' |'

    rule = '|' + '|'.join(('-' * (w + 1) + ':') if a == 'r' else ('-' * (w + 2)) for w, a in zip(widths, align)) + '|'
    return '\n'.join([line(cells[0]), rule] + [line(r) for r in cells[1:]])


# ---------------------------------------------------------------------------------------------- environment
class NetworkBlocked(RuntimeError):
    """Raised when code inside :func:`no_network` tries to open a connection or resolve a host."""


@contextlib.contextmanager
def no_network() -> Iterator[list]:
    """Refuse DNS look-ups and socket connections inside the block; yields the list of attempts.

    Used to prove that building a randomly initialised open_clip model does not touch the network.
    Local ``AF_UNIX`` sockets are still allowed.
    """
    attempts: list = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
    real_connect_ex = socket.socket.connect_ex

    def refuse(what):
        attempts.append(what)
        raise NetworkBlocked(f'network access attempted inside no_network(): {what}')

    def connect(self, address):
        if self.family == getattr(socket, 'AF_UNIX', None):
            return real_connect(self, address)
        refuse(f'connect {address!r}')

    def connect_ex(self, address):
        if self.family == getattr(socket, 'AF_UNIX', None):
            return real_connect_ex(self, address)
        refuse(f'connect {address!r}')

    def getaddrinfo(host, *args, **kwargs):
        refuse(f'getaddrinfo {host!r}')

    env = {k: os.environ.get(k) for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')}
    os.environ.update(HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex
        socket.getaddrinfo = real_getaddrinfo
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C++ libraries such as Kineto log there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def load_note() -> str:
    """A warning when other jobs load this machine beyond its cores (empty string otherwise)."""
    if not hasattr(os, 'getloadavg'):
        return ''
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if load <= cores:
        return ''
    return (f'NOTE: load average {load:.1f} on {cores} logical cores: other jobs share this CPU, so wall-clock '
            'figures are inflated and multi-threaded torch ops can stall on each other (compare with --threads 1)')


def set_threads(threads: Optional[int]) -> int:
    """Set torch's intra-op threads (``None``: leave as is); returns the number in use."""
    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


# The CPU features that decide float32 and bf16 speed (autocast='auto' runs bf16 only with the last two).
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16')


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> dict:
    """``{flag: present}`` for :data:`CPU_FLAGS`, from ``cpuinfo`` (all False where it cannot be read)."""
    try:
        with open(cpuinfo) as f:
            present = next((set(ln.split(':', 1)[1].split()) for ln in f if ln.startswith('flags')), set())
    except OSError:
        present = set()
    return {flag: flag in present for flag in CPU_FLAGS}


def machine_line(device: str = 'cpu', precision: Optional[str] = None) -> str:
    """Processor, its vector flags, cores and load, and the precision the figures ran in, so figures from a
    shared machine or another kind of CPU are read as such."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name')), cpu)
    except OSError:
        pass
    flags = cpu_flags()
    missing = [k for k, on in flags.items() if not on]
    flag_text = ' '.join(k for k, on in flags.items() if on) or 'none'
    flag_text += f' (no {", ".join(missing)})' if missing and len(missing) < len(flags) else ''
    usable = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    load = ', '.join(f'{v:.1f}' for v in os.getloadavg()) if hasattr(os, 'getloadavg') else 'n/a'
    line = (f'machine: {cpu}, {os.cpu_count()} logical cores ({usable} usable), load average {load}; '
            f'CPU flags: {flag_text}')
    if torch.device(device).type == 'cuda':
        line += f'; GPU {torch.cuda.get_device_name(device)}'
    return line + (f'; precision: {precision}' if precision else '')
