"""Worker-side geometry + device-side normalisation == open_clip's transform; the image tower wrapper."""
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
from zeetad.video.clip_image import ClipImageEncoder, FramePreprocessor, normalize_frames


def random_frame(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize('resize_mode', ['shortest', 'longest', 'squash'])
@pytest.mark.parametrize('hw', [(64, 96), (90, 50), (20, 20)])
def test_split_preprocessing_equals_open_clip_transform(resize_mode, hw):
    import open_clip
    cfg = dict(size=32, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), interpolation='bicubic',
               resize_mode=resize_mode)
    frame = random_frame(*hw)
    reference = open_clip.image_transform(32, is_train=False, mean=cfg['mean'], std=cfg['std'],
                                          resize_mode=resize_mode, interpolation='bicubic')(Image.fromarray(frame))
    pre = FramePreprocessor(cfg)
    geometry = pre(frame)
    assert geometry.shape == (32, 32, 3) and geometry.dtype == np.uint8
    ours = normalize_frames(torch.from_numpy(geometry)[None], cfg['mean'], cfg['std'])[0]
    assert ours.shape == reference.shape == (3, 32, 32)
    torch.testing.assert_close(ours, reference, atol=1e-6, rtol=0)


def test_preprocessor_pickles_without_its_transform():
    pre = FramePreprocessor(dict(size=32))
    pre(random_frame(40, 60))
    clone = pickle.loads(pickle.dumps(pre))
    assert clone._steps is None and clone.cfg == pre.cfg
    np.testing.assert_array_equal(clone(random_frame(40, 60, seed=3)), pre(random_frame(40, 60, seed=3)))


def test_encoder_matches_open_clip_encode_image(tiny_clip_file, tiny_encoder):
    import open_clip
    from zeetad.text.open_clip_loader import register_model_config
    name = register_model_config(TINY_CLIP_CONFIG)
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=tiny_clip_file)
    frames = [random_frame(48, 80, seed=s) for s in range(5)]
    with torch.no_grad():
        reference = model.eval().encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in frames]),
                                              normalize=True)
    pre = tiny_encoder.preprocessor()
    ours = tiny_encoder.encode(torch.from_numpy(np.stack([pre(f) for f in frames])), batch_size=2)
    assert ours.shape == (5, 256) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.norm(dim=-1), torch.ones(5), atol=1e-5, rtol=0)


def test_encoder_metadata_and_options(tiny_clip_file, tiny_encoder):
    meta = tiny_encoder.describe()
    assert meta['model'] == 'zeetad-tiny-clip' and meta['pretrained'] == tiny_clip_file
    assert meta['feature_dim'] == tiny_encoder.embed_dim == 256 and meta['image_size'] == [32, 32]
    assert meta['normalized'] is True and meta['resize_mode'] == 'shortest'
    assert not hasattr(tiny_encoder, 'transformer')  # text tower dropped
    assert tiny_encoder.encode(torch.zeros(0, 32, 32, 3, dtype=torch.uint8)).shape == (0, 256)

    raw = ClipImageEncoder(None, tiny_clip_file, TINY_CLIP_CONFIG, normalize=False,
                           preprocess_overrides=dict(mean=(0.5,) * 3, std=(0.5,) * 3)).to_device('cpu')
    assert raw.precision == 'fp32' and raw.describe()['image_mean'] == [0.5] * 3
    frames = torch.from_numpy(np.stack([raw.preprocessor()(random_frame(32, 32, seed=s)) for s in range(3)]))
    feats = raw.encode(frames)
    assert not torch.allclose(feats.norm(dim=-1), torch.ones(3))
    with pytest.raises(ValueError, match='precision'):
        ClipImageEncoder(None, tiny_clip_file, TINY_CLIP_CONFIG, precision='int8')


def test_encoder_bf16_autocast_is_close_to_fp32(tiny_clip_file, tiny_encoder):
    bf16 = ClipImageEncoder(None, tiny_clip_file, TINY_CLIP_CONFIG, precision='bf16').to_device('cpu')
    pre = tiny_encoder.preprocessor()
    frames = torch.from_numpy(np.stack([pre(random_frame(40, 40, seed=s)) for s in range(4)]))
    cos = (bf16.encode(frames) * tiny_encoder.encode(frames)).sum(-1)
    assert cos.min() > 0.99


def test_encoder_is_registered():
    from zeetad.registry import MODELS
    assert MODELS.get('ClipImageEncoder') is ClipImageEncoder
