"""Transitional alias: segment conversions and tIoU live in :mod:`zeetad.structures.segments`."""
from zeetad.structures.segments import *  # noqa: F401,F403
