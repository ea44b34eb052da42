"""Building a trained ZEETAD detector from a config and checkpoint, refusing mismatched text encoders."""
from __future__ import annotations

from typing import Optional

import torch

from .errors import TextEncoderMismatchError

TOWER_PREFIX = 'classifier.text_encoder.tower.'


def load_detect_config(config: str, cfg_options: Optional[dict] = None):
    """Read a config file (``_base_`` inheritance, ``--cfg-options`` merged) with zeetad's default scope."""
    from zeetad.engine.runner_setup import load_config
    return load_config(config, cfg_options)


def text_encoder_description(cfg) -> str:
    """``"model M, pretrained P"`` of the config's CLIP text encoder (for messages)."""
    te = cfg.model.get('classifier', {}).get('text_encoder', {})
    name = te.get('model_name') or te.get('model_config_file') or '?'
    return f'model {name}, pretrained {te.get("pretrained")}'


def check_text_encoder(model: torch.nn.Module, state_dict: dict, checkpoint: str, cfg_desc: str,
                       rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Raise :class:`TextEncoderMismatchError` unless the checkpoint's frozen CLIP text tower equals the config's.

    The tower is frozen in training, so a checkpoint trained with the config's CLIP holds exactly its
    weights. A different tower means the checkpoint's class embeddings live in another CLIP space than
    the image features the config extracts from videos.
    """
    ours = {k: v for k, v in model.state_dict().items() if k.startswith(TOWER_PREFIX)}
    theirs = {k: v for k, v in state_dict.items() if k.startswith(TOWER_PREFIX)}
    advice = ('use the config the checkpoint was trained with, or point model.classifier.text_encoder at the '
              'same CLIP weights (the video features are extracted with that CLIP\'s image tower)')
    if not theirs:
        raise TextEncoderMismatchError(f'{checkpoint}: no CLIP text tower weights ({TOWER_PREFIX}*) in the '
                                       'checkpoint: is it a ZEETAD checkpoint?')
    problems = []
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or extra:
        problems.append(f'{len(missing)} tower tensors missing and {len(extra)} unexpected '
                        f'(e.g. {(missing + extra)[0]})')
    for key in sorted(set(ours) & set(theirs)):
        a, b = ours[key], theirs[key]
        if a.shape != b.shape:
            problems.append(f'{key} has shape {tuple(b.shape)} in the checkpoint, {tuple(a.shape)} in the config')
        elif not torch.allclose(a.float(), b.float().to(a.device), rtol=rtol, atol=atol):
            diff = (a.float() - b.float().to(a.device)).abs().max().item()
            problems.append(f'{key} differs (max |diff| {diff:.3g})')
        if len(problems) >= 3:
            break
    if problems:
        raise TextEncoderMismatchError(
            f'{checkpoint}: its CLIP text encoder does not match the config\'s ({cfg_desc}): '
            + '; '.join(problems) + f'. Fix: {advice}.')


def init_detector(cfg, checkpoint: Optional[str], device: str = 'cpu', check_text: bool = True):
    """Build ``cfg.model``, load ``checkpoint`` strictly (safe loader) and put it in eval mode on ``device``.

    Raises:
        FileNotFoundError: no checkpoint file.
        TextEncoderMismatchError: the checkpoint's text tower is not the config's.
        CheckpointError: other keys or shapes that do not fit the config (names the first ones).
    """
    import zeetad.models  # noqa: F401  (registers the model parts)
    from zeetad.engine.checkpoint_io import check_state_dict_fits, fit_training_only, load_checkpoint_file
    from zeetad.registry import MODELS

    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        ckpt = load_checkpoint_file(checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        if check_text and hasattr(model, 'classifier'):
            check_text_encoder(model, state, checkpoint, text_encoder_description(cfg))
        fit_training_only(model, state)  # denoising queries: training only, trained with or not
        check_state_dict_fits(model, state, checkpoint)  # one check for detect, test and resume
        model.load_state_dict(state)
    return model.to(device).eval()
