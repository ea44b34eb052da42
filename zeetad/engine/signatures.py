"""What a component's constructor accepts: keyword names, and which of them take numbers or booleans."""
from __future__ import annotations

import inspect
import re
from typing import Iterator, Optional

_NON_NUMERIC = {'str', 'Any', 'object'}


def _init_params(obj) -> Iterator[tuple[list, bool]]:
    """``(parameters, takes **kwargs)`` of ``obj`` (a function) or of each ``__init__`` along a class's MRO.

    A class whose ``__init__`` takes ``**kwargs`` is assumed to pass them on to its base classes (followed
    until an ``__init__`` without ``**kwargs``); ``object`` ends the walk as "arbitrary keywords".
    """
    if not inspect.isclass(obj):
        params = list(inspect.signature(obj).parameters.values())
        yield params, any(p.kind is p.VAR_KEYWORD for p in params)
        return
    for klass in obj.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        if klass is object:
            yield [], True
            return
        params = list(inspect.signature(init).parameters.values())[1:]
        more = any(p.kind is p.VAR_KEYWORD for p in params)
        yield params, more
        if not more:
            return


def accepted_keys(obj) -> Optional[set]:
    """Keyword arguments ``obj`` (class or function) accepts; ``None`` when it takes arbitrary ones."""
    keys: set = set()
    try:
        for params, more in _init_params(obj):
            keys.update(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
            if not more:
                return keys
    except (TypeError, ValueError):
        return None
    return None


def value_kinds(obj) -> dict:
    """``{name: 'number' | 'bool'}`` of the parameters of ``obj`` that take numbers or booleans.

    Read from the annotation (``int``, ``Optional[float]``, ``float | Tensor``; not when it also allows
    ``str``) or, without one, from the default value's type.
    """
    kinds: dict = {}
    try:
        for params, _ in _init_params(obj):
            for p in params:
                if p.name in kinds or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                kind = _kind(p)
                if kind:
                    kinds[p.name] = kind
    except (TypeError, ValueError):
        return {}
    return kinds


def _kind(param: inspect.Parameter) -> Optional[str]:
    ann = param.annotation
    if ann is inspect.Parameter.empty:
        default = param.default
        if isinstance(default, bool):
            return 'bool'
        return 'number' if isinstance(default, (int, float)) else None
    names = set(re.findall(r'[A-Za-z_]+', ann if isinstance(ann, str) else inspect.formatannotation(ann)))
    if names & _NON_NUMERIC:
        return None
    if names & {'int', 'float'}:
        return 'number'
    return 'bool' if 'bool' in names and names <= {'bool', 'Optional', 'None', 'typing'} else None
