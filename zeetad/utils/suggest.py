"""Name suggestions for error messages ("did you mean ...?")."""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, options: Iterable[str], cutoff: float = 0.75) -> str:
    """``" (did you mean 'x'?)"`` for the option closest to ``name``, or ``''`` when none is close."""
    match = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=cutoff)
    return f" (did you mean '{match[0]}'?)" if match else ''


def unknown_keys(cfg: dict, allowed: Iterable[str], key: str) -> list[str]:
    """One ``"key: unknown key 'k' (did you mean ...)"`` message per key of ``cfg`` outside ``allowed``."""
    allowed = list(allowed)
    return [f"{key}: unknown key '{k}'{did_you_mean(k, allowed)}; expected one of {sorted(allowed)}"
            for k in cfg if k not in allowed and not str(k).startswith('_')]


def is_number(value) -> bool:
    """A real int/float (not a bool, not a numeric string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def name_key(name: str) -> str:
    """How names are compared for repeats: case and runs of spaces ignored (``'High  Jump'`` -> ``'high jump'``)."""
    return ' '.join(str(name).split()).casefold()


def repeated_names(names: Iterable[str]) -> list[list[str]]:
    """Groups (in first-seen order) of the names that occur more than once, case and spaces ignored, each
    group with every spelling as given: ``['high jump', 'x', 'High Jump']`` -> ``[['high jump', 'High Jump']]``."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name_key(name), []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def repeats_message(names: Iterable[str]) -> str:
    """``''``, or ``"'high jump' and 'High Jump'; 'x' and 'x'"`` naming every repeat."""
    return '; '.join(' and '.join(repr(n) for n in group) for group in repeated_names(names))
