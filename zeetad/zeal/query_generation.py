"""ZEAL stage 1: ask an LLM for every class's queries; cached, resumable, per-class error report.

The output file only ever holds validated entries, written after each request,
so an interrupted run resumes where it stopped. Classes whose answer was
missing or invalid are listed (with the reason) in ``<out>.errors.json`` and in
the returned report; they are never filled in with anything else.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from .queries import (ActionQueries, QueryValidationError, build_query_messages, extract_json, load_queries,
                      parse_queries, save_queries, template_queries)

logger = logging.getLogger(__name__)


@dataclass
class QueryReport:
    """``queries`` valid per class (old and new), ``errors`` per failed class, ``reused`` already cached."""
    queries: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    reused: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def errors_path(out_file: str) -> str:
    return out_file + '.errors.json'


def _existing(out_file: str, force: bool) -> dict:
    if force or not os.path.isfile(out_file):
        return {}
    try:
        return load_queries(out_file)
    except QueryValidationError as exc:
        # A hand edit broke some entries: keep the good ones and ask again for the others.
        logger.warning('%s; those classes are asked again', exc)
        with open(out_file, encoding='utf-8') as f:
            return parse_queries(json.load(f))[0]


def _write_errors(out_file: str, errors: dict) -> None:
    path = errors_path(out_file)
    if errors:
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(dict(sorted(errors.items())), f, indent=2)
    elif os.path.isfile(path):
        os.remove(path)


def generate_queries(classes: Sequence[str], backend, out_file: str, *, classes_per_request: int = 1,
                     attempts_per_class: int = 2, force: bool = False, progress: bool = True,
                     on_result: Optional[Callable[[str, Optional[ActionQueries], Optional[str]], None]] = None
                     ) -> QueryReport:
    """Fill ``out_file`` with queries for ``classes``.

    Args:
        classes: class names, exactly as the dataset spells them.
        backend: an object with ``complete(messages) -> str`` (see :mod:`.llm_backends`), or ``'template'``
            for the fixed-wording :func:`template_queries`.
        out_file: the queries JSON (read first: cached classes are not asked again unless ``force``).
        classes_per_request: classes named in one request (ZEAL asks once per dataset; smaller requests
            fail more locally).
        attempts_per_class: requests per class before it is reported as failed (a malformed answer is
            retried; the HTTP client has its own retries for transport errors).
        force: ignore the cached file.
        progress: show a progress bar.
        on_result: called with ``(class, queries or None, error or None)`` after each class is settled.

    Returns:
        A :class:`QueryReport`; ``errors`` also written to ``<out_file>.errors.json`` (removed when empty).
    """
    classes = list(dict.fromkeys(classes))
    cached = _existing(out_file, force)
    report = QueryReport(queries={c: cached[c] for c in classes if c in cached},
                         reused=[c for c in classes if c in cached])
    todo = [c for c in classes if c not in cached]
    if backend == 'template':
        report.queries.update(template_queries(todo))
        todo = []
    size = max(1, int(classes_per_request))
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), desc='ZEAL queries', unit='class')
    keep = {c: q for c, q in cached.items() if c not in report.queries}  # other classes already in the file
    try:
        for begin in range(0, len(todo), size):
            group = todo[begin:begin + size]
            pending, errors = list(group), {}
            for _ in range(max(1, attempts_per_class)):
                if not pending:
                    break
                try:
                    answer = backend.complete(build_query_messages(pending))
                    valid, errs = parse_queries(extract_json(answer), pending, fuzzy_names=True)
                except ValueError as exc:  # not JSON at all
                    valid, errs = {}, {c: str(exc) for c in pending}
                except RuntimeError as exc:  # the request itself failed for good
                    valid, errs = {}, {c: str(exc) for c in pending}
                    errors.update(errs)
                    break
                report.queries.update(valid)
                errors = {c: errs[c] for c in errs}
                pending = list(errs)
            for c in group:
                report.errors.pop(c, None)
            report.errors.update(errors)
            for c in group:
                if on_result is not None:
                    on_result(c, report.queries.get(c), report.errors.get(c))
                if c in report.errors:
                    logger.warning('ZEAL queries: no valid answer for class %r: %s', c, report.errors[c])
            save_queries({**keep, **report.queries}, out_file)
            if bar is not None:
                bar.update(len(group))
    finally:
        if bar is not None:
            bar.close()
    save_queries({**keep, **report.queries}, out_file)
    _write_errors(out_file, report.errors)
    return report
