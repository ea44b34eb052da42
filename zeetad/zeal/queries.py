"""ZEAL stage 1 data: per-class start/end yes-no questions and a short description.

A queries file is JSON ``{class_name: {"start": ..., "end": ..., "description": ...}}``.
It is a first-class, hand-editable input: the LLM tool writes it, people may fix
it, and everything downstream validates it and names the class at fault.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from zeetad.text.prompts import DEFAULT_TEMPLATE, normalize_class_name
from zeetad.utils.atomic_io import atomic_write_text

QUERY_FIELDS = ('start', 'end', 'description')
MAX_FIELD_CHARS = 400
# The words an English yes/no question starts with (auxiliary and modal verbs).
YES_NO_OPENINGS = frozenset('is are am was were do does did has have had can could will would shall should may '
                            'might must'.split())


class QueryValidationError(ValueError):
    """A queries file or answer with problems; ``errors`` maps class name -> reason."""

    def __init__(self, source: str, errors: Mapping[str, str]):
        self.source, self.errors = source, dict(errors)
        lines = '\n'.join(f'  {name}: {why}' for name, why in sorted(self.errors.items()))
        super().__init__(f'{source}: {len(self.errors)} class(es) with invalid or missing queries:\n{lines}')


@dataclass(frozen=True)
class ActionQueries:
    """What the LVLM is asked about one action class."""
    start: str
    end: str
    description: str

    def to_dict(self) -> dict:
        return asdict(self)


def validate_entry(entry: Any) -> tuple[Optional[ActionQueries], Optional[str]]:
    """Check one class's entry; returns ``(queries, None)`` or ``(None, reason)``. Nothing is repaired."""
    if not isinstance(entry, Mapping):
        return None, f'expected an object with keys {list(QUERY_FIELDS)}, got {type(entry).__name__}'
    missing = [k for k in QUERY_FIELDS if k not in entry]
    if missing:
        return None, f'missing key(s) {missing}'
    extra = sorted(set(entry) - set(QUERY_FIELDS))
    if extra:
        return None, f'unexpected key(s) {extra}'
    for key in QUERY_FIELDS:
        value = entry[key]
        if not isinstance(value, str):
            return None, f'"{key}" must be a string, got {type(value).__name__}'
        if not value.strip():
            return None, f'"{key}" is empty'
        if len(value) > MAX_FIELD_CHARS:
            return None, f'"{key}" is longer than {MAX_FIELD_CHARS} characters'
        if '\n' in value.strip():
            return None, f'"{key}" spans several lines'
    for key in ('start', 'end'):
        words = entry[key].split()
        if not entry[key].strip().endswith('?') or words[0].lower() not in YES_NO_OPENINGS:
            return None, (f'"{key}" must be a yes/no question (a verb such as "Is", "Does" or "Has" first, "?" '
                          f'last): the LVLM answers it with P(yes); got {entry[key].strip()[:80]!r}')
    if entry['start'].strip() == entry['end'].strip():
        return None, 'the start and end questions are identical'
    return ActionQueries(*(entry[k].strip() for k in QUERY_FIELDS)), None


def _name_key(name: str) -> str:
    return re.sub(r'[^0-9a-z]', '', name.lower())


def parse_queries(obj: Any, classes: Optional[Sequence[str]] = None,
                  fuzzy_names: bool = False) -> tuple[dict[str, ActionQueries], dict[str, str]]:
    """Validate a ``{class: entry}`` mapping.

    Args:
        obj: the decoded JSON.
        classes: the classes expected (``None``: whatever the mapping holds). Expected classes absent from
            ``obj`` are errors; keys of ``obj`` that are not expected are ignored.
        fuzzy_names: match keys to ``classes`` ignoring case, spaces and punctuation (LLM answers often
            write "Clean and Jerk" for "CleanAndJerk"); exact keys win.

    Returns:
        ``(valid {class: ActionQueries}, errors {class: reason})``.
    """
    if not isinstance(obj, Mapping):
        return {}, {name: f'the answer is a JSON {type(obj).__name__}, not an object'
                    for name in (classes or ['<all>'])}
    valid, errors = {}, {}
    if classes is None:
        items = [(str(k), v) for k, v in obj.items()]
    else:
        by_key = {_name_key(str(k)): v for k, v in obj.items()} if fuzzy_names else {}
        items = []
        for name in classes:
            if name in obj:
                items.append((name, obj[name]))
            elif fuzzy_names and _name_key(name) in by_key:
                items.append((name, by_key[_name_key(name)]))
            else:
                errors[name] = 'missing from the answer' if fuzzy_names else 'missing'
    for name, entry in items:
        queries, why = validate_entry(entry)
        if why is None:
            valid[name] = queries
        else:
            errors[name] = why
    return valid, errors


def extract_json(text: str) -> Any:
    """Decode the JSON object in an LLM answer (bare, or inside a Markdown code fence).

    Raises:
        ValueError: no decodable JSON object.
    """
    text = text.strip()
    fence = re.search(r'```(?:json)?\s*(.*?)```', text, flags=re.S)
    candidates = [text] + ([fence.group(1)] if fence else [])
    first, last = text.find('{'), text.rfind('}')
    if 0 <= first < last:
        candidates.append(text[first:last + 1])
    for cand in candidates:
        try:
            return json.loads(cand)
        except json.JSONDecodeError:
            continue
    snippet = text[:120].replace('\n', ' ')
    raise ValueError(f'the answer is not valid JSON: {snippet!r}')


def load_queries(path: str, classes: Optional[Sequence[str]] = None) -> dict[str, ActionQueries]:
    """Read and validate a queries file; every problem is reported at once (:class:`QueryValidationError`)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'queries file not found: {path} (write it with tools/zeal/zeal_queries.py)')
    try:
        with open(path, encoding='utf-8') as f:
            obj = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{path}: not valid JSON ({exc})') from None
    valid, errors = parse_queries(obj, classes)
    if errors:
        raise QueryValidationError(path, errors)
    return valid


def save_queries(queries: Mapping[str, ActionQueries], path: str) -> None:
    """Write a queries file atomically, classes sorted, indented for hand editing."""
    content = {name: (q.to_dict() if isinstance(q, ActionQueries) else dict(q)) for name, q in sorted(queries.items())}
    atomic_write_text(path, json.dumps(content, indent=2, ensure_ascii=False) + '\n')


def template_queries(classes: Iterable[str], name_style: str = 'auto') -> dict[str, ActionQueries]:
    """Fixed-wording queries that need no LLM: a baseline, and the synthetic data's choice, since its
    description equals the CLIP prompt ``DEFAULT_TEMPLATE`` the synthetic frame features were built from."""
    out = {}
    for name in classes:
        phrase = normalize_class_name(name, name_style)
        out[name] = ActionQueries(start=f'Is the person just starting to do {phrase}?',
                                  end=f'Has the person just finished doing {phrase}?',
                                  description=DEFAULT_TEMPLATE.replace('{}', phrase))
    return out


QUERY_INSTRUCTIONS = (
    'You help localise human actions in videos, one frame at a time. For each action class named below, write:\n'
    '- "start": a yes/no question that is true only for a single frame showing the very beginning of the action '
    '(something visible in one still image);\n'
    '- "end": a yes/no question that is true only for a single frame showing the very end of the action; it must '
    'not also be true at the start;\n'
    '- "description": one short sentence describing what the action looks like, specific enough to tell it apart '
    'from similar actions.\n'
    'Answer with one JSON object only, no other text: {"<class name exactly as given>": {"start": "...", '
    '"end": "...", "description": "..."}, ...}.')


def build_query_messages(classes: Sequence[str]) -> list[dict]:
    """Chat messages asking an LLM for the queries of ``classes``."""
    listing = '\n'.join(f'- {name}' for name in classes)
    return [{'role': 'system', 'content': QUERY_INSTRUCTIONS},
            {'role': 'user', 'content': f'Action classes:\n{listing}'}]
