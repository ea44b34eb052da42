"""JSON objects whose keys repeat: ``json`` keeps the last value of a repeated key without a word, so a
video listed twice in an annotation file would silently lose its first entry."""
from __future__ import annotations

import json
from typing import Union


def dict_noting_repeats(pairs: list, repeated: set) -> dict:
    """``json`` object hook: a dict, adding keys that occur more than once to ``repeated``."""
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: only then find which keys repeat
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                repeated.add(key)
            seen.add(key)
    return out


def loads_noting_repeats(text: Union[str, bytes]) -> tuple[object, set]:
    """Parse JSON; returns ``(value, keys repeated within some object)``. Raises ``json.JSONDecodeError``."""
    repeated: set = set()
    return json.loads(text, object_pairs_hook=lambda pairs: dict_noting_repeats(pairs, repeated)), repeated
