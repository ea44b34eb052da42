"""Transitional alias of :mod:`zeetad.testing.tiny_clip` for files owned by parallel branches
(tools/make_synthetic_data.py, zeetad/utils/bench_model.py); remove once they import the new home."""
from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG, build_random_clip, make_random_clip_checkpoint  # noqa: F401
