"""Saving matplotlib figures: exact pixel sizes, atomic PNG writes, RGB arrays for vis backends.

Figures are built as bare ``matplotlib.figure.Figure`` objects (no pyplot), so drawing never touches a
global backend or opens a window; matplotlib is imported only when a figure is made.
"""
from __future__ import annotations

import struct
from typing import Tuple

import numpy as np

DPI = 100


def new_figure(width_px: int, height_px: int, dpi: int = DPI):
    """A pyplot-free figure of exactly ``width_px x height_px`` pixels when saved at ``dpi``."""
    from matplotlib.figure import Figure
    return Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)


def save_png(fig, path: str, dpi: int = DPI) -> str:
    """Write ``fig`` as PNG to ``path`` atomically (temp file + rename); returns ``path``.

    No ``bbox_inches='tight'``: the image keeps the figure's pixel size, which callers and tests rely on.
    """
    from zeetad.utils.atomic_io import atomic_path
    with atomic_path(path, suffix='.png') as tmp:
        fig.savefig(tmp, dpi=dpi, format='png')
    return path


def figure_to_rgb(fig, dpi: int = DPI) -> np.ndarray:
    """Render ``fig`` to an ``(H, W, 3)`` uint8 RGB array (what mmengine vis backends' ``add_image`` take)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def png_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` from a PNG header; ``ValueError`` if ``path`` is not a PNG."""
    with open(path, 'rb') as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b'\x89PNG\r\n\x1a\n' or head[12:16] != b'IHDR':
        raise ValueError(f'{path} is not a PNG file')
    return struct.unpack('>II', head[16:24])
