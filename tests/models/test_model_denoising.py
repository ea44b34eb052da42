"""DN-DETR denoising queries: noise, attention mask, reconstruction losses, and inference left unchanged."""
import torch

from zeetad.models.denoising import DenoisingQueries, denoising_attention_mask, noise_segments
from zeetad.models.losses import SetCriterion
from zeetad.registry import MODELS

from test_model_zeetad import batches, dataset, model_cfg

TRANSFORMER = dict(type='DeformableTransformer1D', d_model=16, nhead=2, num_levels=1, num_points=2, enc_layers=1,
                   dec_layers=2, dim_ff=32, dropout=0.0, num_queries=3)


def _transformer(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(TRANSFORMER, **kwargs))


def _feats():
    gen = torch.Generator().manual_seed(1)
    feats = [torch.randn(2, 16, 12, generator=gen)]
    masks = [torch.zeros(2, 12, dtype=torch.bool)]
    masks[0][1, 9:] = True
    return feats, masks

def test_noise_stays_within_the_box_noise():
    seg = torch.tensor([[0.5, 0.2]]).repeat(1000, 1)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(noise_segments(seg, 0.0, gen), seg)
    noised = noise_segments(seg, 0.4, gen)
    shift, scale = (noised[:, 0] - 0.5).abs(), noised[:, 1] / 0.2
    assert shift.max() <= 0.04 + 1e-6 and shift.max() > 0.035  # |dc| <= 0.4 * 0.2 / 2, and it gets there
    assert scale.min() >= 0.6 - 1e-6 and scale.max() <= 1.4 + 1e-6 and scale.min() < 0.65 and scale.max() > 1.35


def test_denoising_mask_hides_the_answer_from_the_matching_queries():
    o, x = 0, 1
    expected = torch.tensor([[o, o, o, x, x, x, x],   # 3 learned queries + 2 denoising groups of 2
                             [o, o, o, x, x, x, x],
                             [o, o, o, x, x, x, x],
                             [o, o, o, o, o, x, x],
                             [o, o, o, o, o, x, x],
                             [o, o, o, x, x, o, o],
                             [o, o, o, x, x, o, o]], dtype=torch.bool)
    assert torch.equal(denoising_attention_mask(3, 2, 2), expected)


def test_matching_queries_are_blind_to_denoising_queries():
    model = _transformer().train()
    feats, masks = _feats()
    plain = model(feats, masks)
    dn = DenoisingQueries(16, num_groups=2)
    targets = [dict(labels=torch.tensor([0, 1]), segments=torch.tensor([[0.3, 0.2], [0.6, 0.1]])),
               dict(labels=torch.tensor([1]), segments=torch.tensor([[0.5, 0.4]]))]
    torch.manual_seed(0)
    queries = dn.build(targets, 3, torch.float32, torch.device('cpu'))
    assert queries['tgt'].shape == (2, 4, 16) and queries['valid'].sum() == 6
    seen = []  # the reference points the first decoder layer gets: (B, Q, L, 2), already times valid ratios
    hook = model.decoder[0].register_forward_pre_hook(lambda module, args: seen.append(args[2]))
    with_dn = model(feats, masks, extra_queries=queries)
    hook.remove()
    assert with_dn['hidden_states'].shape == (2, 2, 3 + 4, 16)
    torch.testing.assert_close(with_dn['hidden_states'][:, :, :3], plain['hidden_states'])
    # the first layer's references of the denoising queries are the noised ground truth (times each video's
    # valid ratio, as for every query: video 1 is padded)
    ratio = with_dn['valid_ratios'][:, 0, None, None]
    assert ratio[1].item() == 0.75
    torch.testing.assert_close(seen[0][:, 3:, 0], queries['reference'] * ratio)


def test_denoising_losses_pair_each_query_with_its_own_segment():
    dn = DenoisingQueries(16, num_groups=2, weight=0.5)
    targets = [dict(labels=torch.tensor([0, 2]), segments=torch.tensor([[0.2, 0.1], [0.7, 0.2]])),
               dict(labels=torch.tensor([1]), segments=torch.tensor([[0.5, 0.3]]))]
    queries = dn.build(targets, 3, torch.float32, torch.device('cpu'))
    assert queries['slots'] == 2 and queries['valid'].tolist() == [[True] * 4, [True, False, True, False]]
    segments = torch.full((2, 4, 2), 0.5)
    segments[0, 0] = torch.tensor([0.25, 0.1])  # group 0's copy of segment 0: centre 0.05 off
    segments[0, 2] = torch.tensor([0.2, 0.1])   # group 1's copy of segment 0: exact
    segments[0, 1] = segments[0, 3] = torch.tensor([0.7, 0.2])
    segments[1, 0] = segments[1, 2] = torch.tensor([0.5, 0.3])
    outputs = dict(pred_segments=segments, pred_logits=torch.zeros(2, 4, 3), aux_outputs=[])
    losses = dn.losses(SetCriterion(), outputs, targets, queries)
    # L1 summed over the 6 valid queries / 6 segments, x 5 (loss weight) x 0.5 (dn weight)
    torch.testing.assert_close(losses['dn.loss_seg'], torch.tensor(0.05 / 6 * 5 * 0.5))
    assert set(losses) == {'dn.loss_cls', 'dn.loss_seg', 'dn.loss_iou'}


def test_zeetad_with_denoising_trains_it_and_predicts_as_the_plain_model(synthetic_small):
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    plain = MODELS.build(model_cfg(synthetic_small))
    torch.manual_seed(0)
    model = MODELS.build(dict(model_cfg(synthetic_small), denoising=dict(num_groups=2)))
    train_batch = next(batches(dataset(synthetic_small, 'train'), 4, 1))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.denoising.content.detach().clone()
    # two steps: the zero-initialised segment heads and projection pass no gradient to the queries at step 1
    for _ in range(2):
        log = model.train_step(train_batch, wrapper)
    assert {'dn.loss_seg', 'dn.d0.loss_iou', 'loss_actionness'} <= set(log)
    assert not torch.equal(model.denoising.content, before)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith('denoising.')}
    plain.load_state_dict(state)
    test_batch = next(batches(dataset(synthetic_small, 'test'), 2, 1))
    with torch.no_grad():
        a, b = model.eval().test_step(test_batch), plain.eval().test_step(test_batch)
    for x, y in zip(a, b):
        assert (x['segments'] == y['segments']).all() and (x['scores'] == y['scores']).all()
