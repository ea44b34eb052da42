"""Helpers of tests/apis (imported by name): little real videos and tiny ZEETAD / ZEAL set-ups."""
import os
from fractions import Fraction

import numpy as np
import torch

from testing_utils import ROOT

TINY_MODEL = dict(
    localizer=dict(d_model=32, transformer=dict(nhead=4, num_points=2, enc_layers=1, dec_layers=1, dim_ff=64,
                                                num_queries=10),
                   actionness=dict(hidden_dim=32, num_points=4)))


def write_video(path: str, seconds: float, fps: int = 4, size=(64, 48), seed: int = 0) -> str:
    """An mpeg4 video of coloured noise with a square moving across (``seconds * fps`` frames)."""
    import av
    rng = np.random.default_rng(seed)
    w, h = size
    with av.open(path, 'w') as out:
        stream = out.add_stream('mpeg4', rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, 'yuv420p'
        n = int(round(seconds * fps))
        for i in range(n):
            img = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
            x = int((w - 12) * i / max(n - 1, 1))
            img[18:30, x:x + 12] = (230, 180, 40)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format='rgb24')):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def text_encoder(clip_ckpt: str) -> dict:
    from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
    return dict(_delete_=True, type='CLIPTextEncoder', model_name='zeetad-tiny-clip',
                model_config_file=TINY_CLIP_CONFIG, pretrained=clip_ckpt, num_adapter_blocks=1, adapter_width=16)


def write_zeetad_config(path: str, clip_ckpt: str, window: int = 16) -> str:
    """The CLIP-stream-only demo config, shrunk: tiny model, tiny CLIP, ``window`` frames at 2 fps."""
    base = os.path.join(ROOT, 'configs', 'zeetad', 'zeetad_clip_only_synthetic_thumos14_demo.py')
    model = dict(TINY_MODEL, classifier=dict(text_encoder=text_encoder(clip_ckpt)))
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\ntest_dataloader = dict(dataset=dict(window_size={window}))\n'
                f'model = {model!r}\n')
    return path


def write_zeetad_checkpoint(path: str, config: str, seed: int = 0) -> str:
    """A randomly initialised ZEETAD of ``config`` saved as an mmengine-style checkpoint."""
    import zeetad.models  # noqa: F401
    from zeetad.apis import load_detect_config
    from zeetad.registry import MODELS
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODELS.build(load_detect_config(config).model)
        with torch.no_grad():  # a livelier random model: scores spread over (0, 1) instead of ~0.01
            model.classifier.logit_bias.fill_(0.0)
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return path


def write_zeal_config(path: str, clip_ckpt: str) -> str:
    base = os.path.join(ROOT, 'configs', 'zeal', 'zeal_thumos14.py')
    te = text_encoder(clip_ckpt)
    te.pop('num_adapter_blocks'), te.pop('adapter_width')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\nmodel = dict(text_encoder={te!r})\n')
    return path
