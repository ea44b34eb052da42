"""Class names typed by a user: ``"high jump, pole vault; a person falling"`` or ``@names.txt``."""
from __future__ import annotations

import os
import re
from typing import Iterable, Union

from zeetad.utils.suggest import repeats_message

from .errors import NoClassesError, RepeatedClassNamesError


def parse_class_names(spec: Union[str, Iterable[str], None]) -> list[str]:
    """Split and strip class names (order kept).

    ``spec`` is a string separated by commas, semicolons or newlines, a list of such strings, or
    ``@path`` to a text file with one name per line (``#`` comments allowed).

    Raises:
        NoClassesError: nothing left after stripping.
        RepeatedClassNamesError: a name given twice, case and spaces ignored (``high jump``, ``High  Jump``).
    """
    parts = [spec] if isinstance(spec, str) or spec is None else list(spec)
    names: list[str] = []
    for part in parts:
        if part is None:
            continue
        part = str(part)
        if part.startswith('@'):
            path = os.path.expanduser(part[1:])
            if not os.path.isfile(path):
                raise NoClassesError(f'class-name file not found: {path}')
            with open(path, encoding='utf-8') as f:
                part = '\n'.join(line for line in f if not line.lstrip().startswith('#'))
        names += [n.strip() for n in re.split(r'[,;\n]', part)]
    names = [n for n in names if n]
    repeats = repeats_message(names)
    if repeats:
        raise RepeatedClassNamesError(f'class names given more than once (case and spaces ignored): {repeats}; '
                                      'give each class once')
    if not names:
        raise NoClassesError('no class names given: pass them as --classes "high jump, pole vault, a person '
                             'falling" (comma-separated) or --classes @names.txt (one per line)')
    return names
