"""Files shipped with zeetad (``configs/``), found through the package, never the working directory.

A wheel carries the configs as package data in ``zeetad/.mim/configs`` (setup.py copies them there at
build time, as mmdetection does for ``mim``); a source checkout or an editable install reads the
checkout's ``configs/`` folder. A path such as ``configs/zeetad/x.py`` that does not exist relative to the
working directory is looked up there, so the README's commands work from any directory once installed.
"""
from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]   # .../zeetad
_SHIPPED = _PACKAGE / '.mim' / 'configs'         # wheel / non-editable install
_CHECKOUT = _PACKAGE.parent / 'configs'          # source checkout / editable install


def config_root() -> Path:
    """The folder holding zeetad's shipped configs (``_base_/``, ``zeetad/``, ``zeal/``)."""
    if _SHIPPED.is_dir():
        return _SHIPPED
    if _CHECKOUT.is_dir():
        return _CHECKOUT
    raise FileNotFoundError(f'zeetad configs not found: neither {_SHIPPED} (installed package) nor {_CHECKOUT} '
                            '(source checkout) exists; reinstall zeetad')


def shipped_config(relative: str) -> str:
    """Absolute path of a shipped config, ``relative`` to ``configs/`` (e.g. ``'zeal/zeal_thumos14.py'``)."""
    path = config_root() / relative
    if not path.is_file():
        raise FileNotFoundError(f'{relative} is not one of the configs shipped with zeetad (looked in {path})')
    return str(path)


def resolve_config_path(path: str) -> str:
    """``path`` if it exists; else, for ``configs/...`` (or ``./configs/...``), the shipped copy if there is one.

    Anything else comes back unchanged, so the caller's "not found" error names the path the user gave.
    """
    path = os.path.expanduser(str(path))
    if os.path.exists(path):
        return path
    parts = Path(os.path.normpath(path)).parts
    if len(parts) > 1 and parts[0] == 'configs':
        try:
            candidate = config_root().joinpath(*parts[1:])
        except FileNotFoundError:
            return path
        if candidate.exists():
            return str(candidate)
    return path
