"""Details taken from TadTR: learning-rate multipliers, the expanded actionness RoI; and score fusion."""
import pytest
import torch
from mmengine.config import Config

from zeetad.models.heads import ActionnessHead
from zeetad.models.heads.actionness_head import expand_segments
from zeetad.registry import MODELS
from benchmarks.common.model import build_optim_wrapper
from testing_utils import ROOT, tiny_model_cfg

CONFIGS = sorted(p.name for p in (ROOT / 'configs' / 'zeetad').glob('*.py'))


@pytest.mark.parametrize('config', CONFIGS)
def test_sampling_offsets_and_reference_head_train_at_a_tenth_of_the_rate(config, tiny_clip_ckpt):
    """TadTR's ``lr_linear_proj_mult`` 0.1 on ``reference_points`` and ``sampling_offsets`` (ours:
    ``reference_head``); everything else trainable at the base rate."""
    cfg = Config.fromfile(str(ROOT / 'configs' / 'zeetad' / config))
    model = MODELS.build(tiny_model_cfg(config, tiny_clip_ckpt))
    wrapper = build_optim_wrapper(model, cfg)
    base = cfg.optim_wrapper.optimizer.lr
    names = {id(p): n for n, p in model.named_parameters()}
    lrs = {names[id(p)]: group['lr'] for group in wrapper.optimizer.param_groups for p in group['params']}
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert set(trainable) <= set(lrs)
    slow = [n for n in trainable if 'reference_head' in n or 'sampling_offsets' in n]
    assert {n.split('.')[-2] for n in slow} == {'reference_head', 'sampling_offsets'}
    for name in trainable:
        expected = base * 0.1 if name in slow else base
        assert lrs[name] == pytest.approx(expected), name


def test_expand_segments_scales_about_the_centre_and_clips():
    segments = torch.tensor([[0.4, 0.6], [0.0, 0.2], [0.9, 1.0], [0.3, 0.3]])
    expected = torch.tensor([[0.35, 0.65], [0.0, 0.25], [0.875, 1.0], [0.3, 0.3]])
    torch.testing.assert_close(expand_segments(segments, 1.5), expected)
    torch.testing.assert_close(expand_segments(segments, 1.0), segments)


def test_actionness_pools_over_the_segment_expanded_one_and_a_half_times():
    """Features ramp with time, so each of the 4 RoIAlign samples gives its own position back."""
    T, valid = 40, 32
    memory = torch.arange(T, dtype=torch.float32)[None, :, None] + 0.5  # sample i carries its centre i + 0.5
    head = ActionnessHead(in_dim=1, num_points=4, hidden_dim=4, dropout=0.0)
    assert head.roi_expand == 1.5  # TadTR's default
    captured = {}
    head.mlp.register_forward_hook(lambda m, inputs, out: captured.update(x=inputs[0]))
    head(memory, torch.tensor([[[0.25, 0.75]]]), torch.tensor([float(valid)]))
    # 0.25..0.75 of 32 steps is 8..24; 1.5x about the centre 16 is 4..28; bin centres 7, 13, 19, 25.
    torch.testing.assert_close(captured['x'][0, 0], torch.tensor([7.0, 13.0, 19.0, 25.0]))
    with pytest.raises(ValueError, match='roi_expand'):
        ActionnessHead(in_dim=1, roi_expand=0.0)


def test_shipped_model_config_uses_tadtr_roi():
    cfg = Config.fromfile(str(ROOT / 'configs' / '_base_' / 'models' / 'zeetad.py'))
    assert cfg.model.localizer.actionness.roi_expand == 1.5


@pytest.mark.parametrize('fusion', ['mul', 'cls'])
def test_score_fusion(fusion, tiny_clip_ckpt):
    """``'mul'``: class probability x actionness probability; ``'cls'``: class probability alone."""
    torch.manual_seed(0)
    model = MODELS.build(dict(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt),
                              test_cfg=dict(topk=5, score_fusion=fusion, class_score='sigmoid', autocast=None))).eval()
    g = torch.Generator().manual_seed(0)
    inputs = dict(loc=torch.randn(1, 24, 2048, generator=g), clip=torch.randn(1, 24, 512, generator=g),
                  mask=torch.zeros(1, 24, dtype=torch.bool))
    samples = [dict(video_id='v', classes=['HighJump', 'Diving'], span_s=24.0, begin_s=0.0, duration=24.0)]
    with torch.no_grad():
        out = model(inputs, samples, mode='tensor')
        pred = model(inputs, samples, mode='predict')[0]
    probs = out['logits'][-1, 0].sigmoid()  # (Q, K)
    if fusion == 'mul':
        probs = probs * out['actionness'][0].sigmoid()[:, None]
    top = probs.flatten().topk(5).values
    torch.testing.assert_close(torch.as_tensor(pred['scores']), top)
    # the two fusions rank differently, or the test would not tell them apart
    assert not torch.allclose(out['logits'][-1, 0].sigmoid().flatten().topk(5).values,
                              (out['logits'][-1, 0].sigmoid() * out['actionness'][0].sigmoid()[:, None])
                              .flatten().topk(5).values)


@pytest.mark.parametrize('temperature', [1.0, 5.0])
def test_softmax_class_score_over_the_test_texts(temperature, tiny_clip_ckpt):
    """``class_score='softmax'``: P(class | proposal) over the K test classes (temperature-scaled) x actionness."""
    torch.manual_seed(0)
    model = MODELS.build(dict(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt),
                              test_cfg=dict(topk=6, class_score='softmax', softmax_temperature=temperature,
                                            autocast=None))).eval()
    g = torch.Generator().manual_seed(1)
    inputs = dict(loc=torch.randn(1, 24, 2048, generator=g), clip=torch.randn(1, 24, 512, generator=g),
                  mask=torch.zeros(1, 24, dtype=torch.bool))
    samples = [dict(video_id='v', classes=['HighJump', 'Diving', 'Billiards'], span_s=24.0, begin_s=0.0,
                    duration=24.0)]
    with torch.no_grad():
        out = model(inputs, samples, mode='tensor')
        pred = model(inputs, samples, mode='predict')[0]
    probs = torch.softmax(out['logits'][-1, 0] / temperature, dim=-1) * out['actionness'][0].sigmoid()[:, None]
    torch.testing.assert_close(torch.as_tensor(pred['scores']), probs.flatten().topk(6).values)
    with pytest.raises(ValueError, match='model.test_cfg.class_score'):
        MODELS.build(dict(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt),
                          test_cfg=dict(class_score='softmx')))


@pytest.mark.parametrize('weight', [0.5, 1.0])
def test_clip_prior_mixes_in_clips_own_zero_shot_rule(weight, tiny_clip_ckpt):
    """``clip_prior_weight`` w: (1 - w) x class probability + w x softmax(100 cos(pooled CLIP frames, text))."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    model = MODELS.build(dict(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt, clip_dim=256),
                              test_cfg=dict(topk=6, clip_prior_weight=weight, class_score='sigmoid',
                                            autocast=None))).eval()
    g = torch.Generator().manual_seed(2)  # CLIP frames of the tiny text tower's width (256)
    inputs = dict(loc=torch.randn(1, 24, 2048, generator=g), clip=torch.randn(1, 24, 256, generator=g),
                  mask=torch.zeros(1, 24, dtype=torch.bool))
    names = ['HighJump', 'Diving', 'Billiards']
    samples = [dict(video_id='v', classes=names, span_s=24.0, begin_s=0.0, duration=24.0)]
    with torch.no_grad():
        out = model(inputs, samples, mode='tensor')
        pred = model(inputs, samples, mode='predict')[0]
        text = model.classifier.text_embeddings(names)
    pooled = F.normalize(out['semantics'][-1, 0, :, -256:], dim=-1)  # the CLIP frames pooled in each segment
    prior = torch.softmax(100.0 * pooled @ text.T, dim=-1)
    probs = ((1 - weight) * out['logits'][-1, 0].sigmoid() + weight * prior) * out['actionness'][0].sigmoid()[:, None]
    torch.testing.assert_close(torch.as_tensor(pred['scores']), probs.flatten().topk(6).values)
    with pytest.raises(ValueError, match='clip_prior_weight'):
        MODELS.build(dict(tiny_model_cfg('zeetad_thumos14_i3d_clip.py', tiny_clip_ckpt),
                          test_cfg=dict(clip_prior_weight=1.5)))
