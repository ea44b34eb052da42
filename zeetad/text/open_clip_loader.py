"""Loading open_clip models: custom JSON configs, pretrained tags and local files.

open_clip is imported inside the functions so that importing zeetad stays cheap.
"""
import json
import logging
import os
from typing import Any, Optional, Tuple

from torch import nn

logger = logging.getLogger(__name__)


def _open_clip():
    try:
        import open_clip
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('the CLIP text path needs open_clip: pip install open_clip_torch') from e
    return open_clip


def register_model_config(model_config_file: str) -> str:
    """Register an open_clip model-config JSON file; return its model name.

    open_clip keys model configs by file stem, so ``configs/x/my-clip.json``
    becomes the model ``'my-clip'``. Registering the same file twice is a no-op;
    a different file whose stem clashes with an existing, different config is
    refused rather than silently shadowing it.
    """
    from zeetad.utils.resources import resolve_config_path
    open_clip = _open_clip()
    path = os.path.abspath(resolve_config_path(model_config_file))  # configs/...: also the shipped copy
    if not os.path.isfile(path):
        raise FileNotFoundError(f'open_clip model config file not found: {path}')
    with open(path, 'r', encoding='utf-8') as f:
        cfg = json.load(f)
    missing = [k for k in ('embed_dim', 'vision_cfg', 'text_cfg') if k not in cfg]
    if missing:
        raise ValueError(f'{path} is not an open_clip model config (missing keys {missing})')
    name = os.path.splitext(os.path.basename(path))[0]
    existing = open_clip.get_model_config(name)
    if existing == cfg:
        return name
    if existing is not None:
        raise ValueError(f'open_clip already has a different model config named {name!r}; '
                         f'rename {path} to register it')
    open_clip.add_model_config(path)
    return name


def resolve_pretrained(model_name: str, pretrained: Optional[str]) -> Optional[str]:
    """Validate ``pretrained``: ``None``, an existing file, or a known open_clip tag.

    Returns the value to pass to ``open_clip.create_model``. A value that is
    neither an existing file nor a tag of ``model_name`` raises
    ``FileNotFoundError`` naming the path, instead of open_clip's generic error.
    """
    if pretrained is None or str(pretrained) == '':
        return None
    path = os.path.expanduser(str(pretrained))
    if os.path.isfile(path):
        return path
    tags = list(_open_clip().list_pretrained_tags_by_model(model_name))
    if str(pretrained).lower() in [t.lower() for t in tags]:
        return str(pretrained)
    raise FileNotFoundError(
        f'CLIP checkpoint not found: {os.path.abspath(path)} (not an existing file, and not a '
        f'pretrained tag of open_clip model {model_name!r}; known tags: {tags or "none"})')


def load_open_clip(model_name: Optional[str] = None,
                   pretrained: Optional[str] = None,
                   model_config_file: Optional[str] = None,
                   cache_dir: Optional[str] = None) -> Tuple[nn.Module, Any, str]:
    """Create an open_clip model (CPU, fp32) and its tokenizer.

    Args:
        model_name: open_clip architecture name; defaults to the stem of
            ``model_config_file`` when one is given, else ``'ViT-B-16'``.
        pretrained: ``None`` (random init), a pretrained tag (e.g. ``'openai'``,
            downloaded by open_clip into ``cache_dir``), or a local checkpoint
            path, which ``open_clip.create_model`` loads strictly.
        model_config_file: JSON model config registered before creation.
        cache_dir: download cache for pretrained tags.

    Returns:
        ``(model, tokenizer, model_name)``.
    """
    open_clip = _open_clip()
    if model_config_file is not None:
        registered = register_model_config(model_config_file)
        if model_name is not None and model_name != registered:
            raise ValueError(f'model_name {model_name!r} does not match the config file stem '
                             f'{registered!r} of {model_config_file}; open_clip names configs by stem')
        model_name = registered
    model_name = model_name or 'ViT-B-16'
    if open_clip.get_model_config(model_name) is None:
        raise ValueError(f'unknown open_clip model {model_name!r}; pass model_config_file for custom models')
    weights = resolve_pretrained(model_name, pretrained)
    if weights is None:
        logger.info('CLIP model %s is randomly initialised (pretrained=None)', model_name)
    model = open_clip.create_model(model_name, pretrained=weights, cache_dir=cache_dir, device='cpu')
    # Older open_clip releases forward unknown kwargs to the tokenizer: pass cache_dir only if set.
    tok_kwargs = {} if cache_dir is None else {'cache_dir': cache_dir}
    tokenizer = open_clip.get_tokenizer(model_name, **tok_kwargs)
    return model, tokenizer, model_name
