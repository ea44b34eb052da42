"""CLIP text path: prompts, the frozen open_clip text tower with adapters, helpers.

open_clip itself is imported lazily, when a model is built.
"""
from .adapters import BottleneckAdapter
from .clip_text_encoder import CLIPTextEncoder
from .encode import encode_class_names
from .open_clip_loader import load_open_clip, register_model_config, resolve_pretrained
from .prompts import (DEFAULT_TEMPLATE, ENSEMBLE_TEMPLATES, TEMPLATE_PRESETS, build_prompts,
                      normalize_class_name, resolve_templates, split_camel_case)
from .text_tower import TextTower

__all__ = [
    'BottleneckAdapter', 'CLIPTextEncoder', 'encode_class_names', 'load_open_clip', 'register_model_config',
    'resolve_pretrained', 'DEFAULT_TEMPLATE', 'ENSEMBLE_TEMPLATES', 'TEMPLATE_PRESETS', 'build_prompts',
    'normalize_class_name', 'resolve_templates', 'split_camel_case', 'TextTower',
]

