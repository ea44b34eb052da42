"""Forward *and* backward time of named model parts, from one ``torch.profiler`` run.

Named ranges (``record_function``) are opened around chosen modules by forward pre/post hooks, or around
bound methods by wrapping them on the instance; the model's code is not touched. Forward time of a part is
the total time of its ranges. Backward time is attributed through autograd's sequence numbers: every
forward op that records an autograd node carries a ``sequence_nr``, and the backward event
``autograd::engine::evaluate_function: <Node>`` that runs that node carries the same number, so a backward
node is charged to every named range that enclosed the forward op which created it. Ranges may nest
(deformable attention inside the encoder): times are inclusive.

On CPU the figures are CPU wall time of the ops on the profiled thread (with profiler overhead); on CUDA
they are device (kernel) time.
"""
from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch import nn

__all__ = ['RangeHooks', 'PartTime', 'attribute_times', 'profile_parts']

_BACKWARD_PREFIX = 'autograd::engine::evaluate_function: '


class RangeHooks:
    """Open a ``record_function(name)`` range around modules or methods while attached::

        hooks = RangeHooks().module('encoder', model.localizer.transformer.encoder)  # each layer's calls
        hooks.method('text tower', model.classifier.text_encoder, 'encode')
        ...  # profile
        hooks.remove()
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self._handles: list = []
        self._patched: list[tuple[object, str, object]] = []

    def _remember(self, name: str) -> None:
        if name not in self.names:
            self.names.append(name)

    def module(self, name: str, module: nn.Module) -> 'RangeHooks':
        """Range around each forward call of ``module`` (an ``nn.ModuleList`` means each of its members)."""
        self._remember(name)
        targets = list(module) if isinstance(module, nn.ModuleList) else [module]  # a ModuleList is never called
        for target in targets:
            stack: list = []

            def pre(_mod, _args, stack=stack):
                ctx = torch.profiler.record_function(name)
                ctx.__enter__()
                stack.append(ctx)

            def post(_mod, _args, _out, stack=stack):
                stack.pop().__exit__(None, None, None)

            self._handles.append(target.register_forward_pre_hook(pre))
            self._handles.append(target.register_forward_hook(post, always_call=True))
        return self

    def method(self, name: str, obj: object, attr: str) -> 'RangeHooks':
        """Range around ``obj.attr(...)``: a bound method of an instance, or a function in a module's namespace
        (patch the namespace its caller looks it up in)."""
        self._remember(name)
        original = getattr(obj, attr)

        def wrapped(*args, **kwargs):
            with torch.profiler.record_function(name):
                return original(*args, **kwargs)

        # Functions looked up through a module's globals (``module.func``) are replaced and later restored;
        # bound methods are shadowed on the instance and later un-shadowed.
        own = attr in vars(obj)
        setattr(obj, attr, wrapped)
        self._patched.append((obj, attr, original if own else None))
        return self

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        for obj, attr, original in reversed(self._patched):
            if original is not None:
                setattr(obj, attr, original)
            elif attr in vars(obj):
                delattr(obj, attr)
        self._handles, self._patched = [], []


@dataclass
class PartTime:
    """Milliseconds of one named part, summed over the profiled steps."""
    forward_ms: float = 0.0
    backward_ms: float = 0.0
    calls: int = 0

    @property
    def total_ms(self) -> float:
        return self.forward_ms + self.backward_ms


def _event_ms(event, use_device: bool) -> float:
    if use_device:
        us = getattr(event, 'device_time_total', None)
        if us is None:
            us = getattr(event, 'cuda_time_total', 0.0)
        return us / 1e3
    return event.cpu_time_total / 1e3


def attribute_times(events: Iterable, names: Iterable[str], use_device: bool = False) -> dict[str, PartTime]:
    """Forward/backward time per range name from profiler ``events`` (``prof.events()``).

    Also returns ``'<backward, unattributed>'`` (gradient accumulation, nodes made outside every range).
    """
    names = list(names)
    wanted = set(names)
    events = list(events)
    parts = {n: PartTime() for n in names}
    seq_owner: dict[tuple, set] = defaultdict(set)
    for ev in events:
        if ev.name in wanted:
            parts[ev.name].forward_ms += _event_ms(ev, use_device)
            parts[ev.name].calls += 1
        seq = getattr(ev, 'sequence_nr', -1)
        if seq is None or seq < 0 or ev.name.startswith(_BACKWARD_PREFIX):
            continue
        enclosing, parent = set(), ev.cpu_parent
        while parent is not None:
            if parent.name in wanted:
                enclosing.add(parent.name)
            parent = parent.cpu_parent
        if enclosing:
            seq_owner[(ev.thread, seq)] |= enclosing
    unattributed = PartTime()
    for ev in events:
        if not ev.name.startswith(_BACKWARD_PREFIX) or ev.cpu_parent is not None:
            continue
        ms = _event_ms(ev, use_device)
        seq = getattr(ev, 'sequence_nr', -1)
        # Backward nodes record the forward thread's id as ``fwd_thread``.
        owners = seq_owner.get((getattr(ev, 'fwd_thread', ev.thread), seq), set()) if seq is not None and seq >= 0 \
            else set()
        if not owners:
            unattributed.backward_ms += ms
        for name in owners:
            parts[name].backward_ms += ms
    parts['<backward, unattributed>'] = unattributed
    return parts


@contextlib.contextmanager
def profile_parts(hooks: RangeHooks, device: str = 'cpu', quiet: bool = True) -> Iterator[dict]:
    """Profile the ``with`` block; on exit the yielded dict holds ``parts`` (see :func:`attribute_times`).

    ``quiet`` silences the profiler library's own log lines on stderr.
    """
    from torch.profiler import ProfilerActivity, profile

    from ..harness import quiet_stderr
    use_device = torch.device(device).type == 'cuda'
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if use_device else [])
    result: dict = {}
    quiet_ctx = quiet_stderr if quiet else contextlib.nullcontext
    with quiet_ctx():
        prof = profile(activities=activities)
        prof.__enter__()
    try:
        yield result
    finally:
        with quiet_ctx():
            prof.__exit__(None, None, None)
    result['parts'] = attribute_times(prof.events(), hooks.names, use_device)
    result['profiler'] = prof

