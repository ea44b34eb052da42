"""Reading a config file and checking ``--cfg-options`` before they are merged, naming the file, line or key.

mmengine reports a syntax error in a config (or in one of its ``_base_`` files) without the file name, and
``merge_from_dict`` creates any key it is given: a misspelt or unread top-level option changes nothing.
"""
from __future__ import annotations

import ast
import os.path as osp
from typing import Iterator, Optional

from zeetad.utils.suggest import did_you_mean
from .config_keys import ConfigError, top_level_keys

def _bases(tree: ast.Module, path: str) -> list:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return []
            names = [value] if isinstance(value, str) else list(value)
            return [osp.normpath(osp.join(osp.dirname(path), n)) for n in names if isinstance(n, str)]
    return []


def locate_syntax_error(path: str, seen: Optional[set] = None) -> Optional[str]:
    """``"file:line: message"`` of the first syntax error in ``path`` or its ``_base_`` files (None if none)."""
    seen = set() if seen is None else seen
    if path in seen or not osp.isfile(path) or not path.endswith('.py'):
        return None
    seen.add(path)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        line = f'\n    {exc.text.rstrip()}' if exc.text else ''
        return f'{path}:{exc.lineno}: syntax error: {exc.msg}{line}'
    for base in _bases(tree, path):
        found = locate_syntax_error(base, seen)
        if found:
            return found
    return None


def read_config(path: str):
    """``Config.fromfile(path)``; a config that cannot be read raises :class:`ConfigError` naming the file.

    ``configs/...`` not found under the working directory is read from the configs shipped with zeetad.
    """
    from mmengine.config import Config

    from zeetad.utils.resources import resolve_config_path
    path = resolve_config_path(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    try:
        return Config.fromfile(path)
    except SyntaxError as exc:
        raise ConfigError(locate_syntax_error(path) or f'{path}: syntax error: {exc}') from None
    except Exception as exc:  # noqa: BLE001 - NameError, a missing _base_ ...: say which config it was
        if path in str(exc):
            raise
        raise ConfigError(f'{path}: cannot read the config: {type(exc).__name__}: {exc}') from None


def _paths_of(cfg, name: str, path: str = '') -> Iterator[str]:
    """Key paths where ``name`` occurs as a key inside the runner sections of ``cfg``."""
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            sub = f'{path}.{key}' if path else str(key)
            if key == name and path:
                yield sub
            yield from _paths_of(value, name, sub)
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            yield from _paths_of(value, name, f'{path}.{i}')


def check_options(cfg, options: dict, path: str) -> None:
    """Raise :class:`ConfigError` for ``--cfg-options`` keys that would change nothing once merged into ``cfg``.

    A top-level key must be one something reads (:func:`top_level_keys`). A variable of the config file
    (``loc_features``, ``d_model``) was already substituted where the file uses it, and a name that is
    nowhere in the file is a typo; both are refused with the key paths to set instead. Keys below a read
    key are checked by :func:`~zeetad.engine.config_check.validate_config` like the file's own.
    """
    known = top_level_keys()
    problems = []
    for option in options:
        top = str(option).split('.')[0]
        if top in known:
            continue
        runner_part = {k: v for k, v in cfg.items() if k in known}
        where = sorted(_paths_of(runner_part, top))
        hint = f'; set {where[0]}{option[len(top):]}' + (f' (and {len(where) - 1} more)' if len(where) > 1 else '') \
            if where else did_you_mean(top, sorted(known | set(cfg.keys())))
        if top in cfg:
            problems.append(f"--cfg-options {option}: '{top}' is a variable of {path}, already substituted where the "
                            f'file uses it, so changing it here changes nothing{hint}')
        else:
            problems.append(f"--cfg-options {option}: no key '{top}' in {path}, and nothing reads it{hint}")
    if problems:
        raise ConfigError('invalid --cfg-options:\n  ' + '\n  '.join(problems))
