"""Training-only decoder queries: query groups (Group DETR / H-DETR one-to-many) and DN-DETR denoising queries."""
import pytest
import torch

from zeetad.models.losses import HungarianMatcher, SetCriterion
from zeetad.models.query_groups import (group_attention_mask, group_sizes, query_group_losses, repeat_targets,
                                        split_query_groups)
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


def test_group_attention_mask_is_block_diagonal():
    expected = torch.tensor([[0, 0, 1, 1, 1],
                             [0, 0, 1, 1, 1],
                             [1, 1, 0, 0, 0],
                             [1, 1, 0, 0, 0],
                             [1, 1, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(group_attention_mask([2, 3]), expected)


def test_first_group_is_blind_to_the_other_groups_in_training(monkeypatch):
    model = _transformer(extra_query_groups=[4, 4]).train()
    feats, masks = _feats()
    before = model(feats, masks)
    assert before['segments'].shape == (2, 2, 3 + 8, 2)
    with torch.no_grad():
        model.extra_query_embed.add_(torch.randn_like(model.extra_query_embed))
    after = model(feats, masks)
    # (segments would not do: the segment heads are zero-initialised, so they start at the references)
    torch.testing.assert_close(after['hidden_states'][:, :, :3], before['hidden_states'][:, :, :3])
    assert not torch.allclose(after['hidden_states'][:, :, 3:], before['hidden_states'][:, :, 3:])  # they moved
    # group 1 is blind to group 2 as well
    with torch.no_grad():
        model.extra_query_embed[4:].add_(1.0)
    moved = model(feats, masks)
    torch.testing.assert_close(moved['hidden_states'][:, :, :7], after['hidden_states'][:, :, :7])
    # Without the mask the first group would see the others: the test can fail.
    unmasked = _transformer(extra_query_groups=[4, 4]).train()
    unmasked.load_state_dict(model.state_dict())
    from zeetad.models.localizers import deformable_transformer as module
    monkeypatch.setattr(module, 'group_attention_mask',
                        lambda sizes, device=None: torch.zeros(sum(sizes), sum(sizes), dtype=torch.bool))
    leaked = unmasked(feats, masks)
    assert not torch.allclose(leaked['hidden_states'][:, :, :3], moved['hidden_states'][:, :, :3])


def test_groups_start_like_the_plain_model_and_inference_ignores_them():
    plain, grouped = _transformer(), _transformer(extra_query_groups=[5])
    state = grouped.state_dict()
    assert set(state) - set(plain.state_dict()) == {'extra_query_embed'}
    for key, value in plain.state_dict().items():  # same seed: the Q queries and every weight start the same
        assert torch.equal(value, state[key]), key
    feats, masks = _feats()
    plain_eval, grouped_eval = plain.eval()(feats, masks), grouped.eval()(feats, masks)
    assert grouped_eval['segments'].shape == (2, 2, 3, 2)
    for key in ('segments', 'hidden_states'):
        assert torch.equal(grouped_eval[key], plain_eval[key]), key
    # training mode, group 0: the same as the plain model up to float rounding of the masked softmax
    plain_train, grouped_train = plain.train()(feats, masks), grouped.train()(feats, masks)
    torch.testing.assert_close(grouped_train['hidden_states'][:, :, :3], plain_train['hidden_states'])


def test_one_to_many_matching_assigns_each_segment_k_queries():
    gen = torch.Generator().manual_seed(0)
    targets = [dict(labels=torch.tensor([0, 2]), segments=torch.tensor([[0.2, 0.1], [0.7, 0.2]])),
               dict(labels=torch.tensor([1]), segments=torch.tensor([[0.5, 0.3]]))]
    repeated = repeat_targets(targets, 3)
    assert torch.equal(repeated[0]['labels'], torch.tensor([0, 2, 0, 2, 0, 2]))
    assert repeated[1]['segments'].shape == (3, 2)
    matcher = HungarianMatcher()
    indices = matcher(torch.randn(2, 10, 3, generator=gen), torch.rand(2, 10, 2, generator=gen) * 0.5 + 0.1,
                      repeated)
    for (queries, tgt), original in zip(indices, targets):
        n = len(original['labels'])
        assert torch.equal(torch.bincount(tgt % n, minlength=n), torch.full((n, ), 3))  # each GT 3 times
        assert len(set(queries.tolist())) == 3 * n  # by 3n distinct queries


def test_group_losses_are_the_plain_losses_plus_each_group_matched_alone():
    gen = torch.Generator().manual_seed(0)
    criterion = SetCriterion()
    targets = [dict(labels=torch.tensor([0, 2]), segments=torch.tensor([[0.2, 0.1], [0.7, 0.2]])),
               dict(labels=torch.tensor([1]), segments=torch.tensor([[0.5, 0.3]]))]

    def layer(q):
        return dict(pred_logits=torch.randn(2, q, 3, generator=gen),
                    pred_segments=torch.rand(2, q, 2, generator=gen) * 0.5 + 0.1)

    outputs = dict(layer(4 + 6 + 6), pred_actionness=torch.randn(2, 16, generator=gen), aux_outputs=[layer(16)])
    sizes = [4, 6, 6]
    losses = query_group_losses(criterion, outputs, targets, sizes, one_to_many=2, weight=0.5)
    parts = split_query_groups(outputs, sizes)
    assert parts[1]['aux_outputs'][0]['pred_segments'].shape == (2, 6, 2)
    plain = criterion(parts[0], targets)
    g1, g2 = (criterion(p, repeat_targets(targets, 2)) for p in parts[1:])
    for key in plain:
        assert torch.equal(losses[key], plain[key]), key
        torch.testing.assert_close(losses[f'groups.{key}'], 0.5 * (g1[key] + g2[key]))
    assert set(losses) == set(plain) | {f'groups.{k}' for k in plain}
    one = query_group_losses(criterion, parts[0], targets, [4])
    assert one.keys() == plain.keys() and all(torch.equal(one[k], plain[k]) for k in plain)
    with pytest.raises(ValueError, match=r'16 queries in the outputs, query groups \[4, 6\] sum to 10'):
        split_query_groups(outputs, [4, 6])


def test_bad_query_group_settings_are_named():
    with pytest.raises(ValueError, match='model.query_groups.num_groups must be >= 1'):
        group_sizes(10, dict(num_groups=0))
    with pytest.raises(ValueError, match='model.query_groups.one_to_many must be >= 1'):
        group_sizes(10, dict(num_groups=2, one_to_many=0))
    with pytest.raises(KeyError, match=r"model.query_groups: unknown keys \['group'\]"):
        group_sizes(10, dict(group=2))
    assert group_sizes(10, None) == [10] and group_sizes(10, dict(num_groups=3, queries=7)) == [10, 7, 7]


def test_zeetad_with_groups_trains_them_and_predicts_as_the_plain_model(synthetic_small):
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    plain = MODELS.build(model_cfg(synthetic_small))
    torch.manual_seed(0)
    grouped = MODELS.build(dict(model_cfg(synthetic_small), query_groups=dict(num_groups=3, one_to_many=2)))
    assert grouped.localizer.transformer.extra_query_groups == [10, 10]
    train_batch = next(batches(dataset(synthetic_small, 'train'), 4, 1))
    wrapper = OptimWrapper(torch.optim.AdamW(grouped.parameters(), lr=1e-3))
    before = grouped.localizer.transformer.extra_query_embed.detach().clone()
    log = grouped.train_step(train_batch, wrapper)
    assert 'groups.loss_cls' in log and 'groups.d0.loss_seg' in log
    assert not torch.equal(grouped.localizer.transformer.extra_query_embed, before)  # the groups get gradients
    # Inference: the trained weights without the extra groups' embedding give the same detections.
    state = {k: v for k, v in grouped.state_dict().items() if 'extra_query_embed' not in k}
    plain.load_state_dict(state)
    test_batch = next(batches(dataset(synthetic_small, 'test'), 2, 1))
    with torch.no_grad():
        a, b = grouped.eval().test_step(test_batch), plain.eval().test_step(test_batch)
    for x, y in zip(a, b):
        assert x['segments'].shape == y['segments'].shape and (x['segments'] == y['segments']).all()
        assert (x['scores'] == y['scores']).all() and (x['labels'] == y['labels']).all()


# ---------------------------------------------------------------------------------------- denoising queries
def test_noise_stays_within_the_box_noise():
    from zeetad.models.denoising import noise_segments
    seg = torch.tensor([[0.5, 0.2]]).repeat(1000, 1)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(noise_segments(seg, 0.0, gen), seg)
    noised = noise_segments(seg, 0.4, gen)
    shift, scale = (noised[:, 0] - 0.5).abs(), noised[:, 1] / 0.2
    assert shift.max() <= 0.04 + 1e-6 and shift.max() > 0.035  # |dc| <= 0.4 * 0.2 / 2, and it gets there
    assert scale.min() >= 0.6 - 1e-6 and scale.max() <= 1.4 + 1e-6 and scale.min() < 0.65 and scale.max() > 1.35


def test_denoising_mask_hides_the_answer_from_the_matching_queries():
    from zeetad.models.denoising import denoising_attention_mask
    o, x = 0, 1
    expected = torch.tensor([[o, o, o, x, x, x, x],   # 2 inference queries + 1 training group + 2 DN groups of 2
                             [o, o, o, x, x, x, x],
                             [o, o, o, x, x, x, x],
                             [o, o, x, o, o, x, x],
                             [o, o, x, o, o, x, x],
                             [o, o, x, x, x, o, o],
                             [o, o, x, x, x, o, o]], dtype=torch.bool)
    expected[:2, 2] = True  # query groups stay apart
    expected[2, :2] = True
    assert torch.equal(denoising_attention_mask([2, 1], 2, 2), expected)


def test_matching_queries_are_blind_to_denoising_queries():
    from zeetad.models.denoising import DenoisingQueries
    model = _transformer().train()
    feats, masks = _feats()
    plain = model(feats, masks)
    dn = DenoisingQueries(16, num_groups=2)
    targets = [dict(labels=torch.tensor([0, 1]), segments=torch.tensor([[0.3, 0.2], [0.6, 0.1]])),
               dict(labels=torch.tensor([1]), segments=torch.tensor([[0.5, 0.4]]))]
    torch.manual_seed(0)
    queries = dn.build(targets, [3], torch.float32, torch.device('cpu'))
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
    from zeetad.models.denoising import DenoisingQueries
    dn = DenoisingQueries(16, num_groups=2, weight=0.5)
    targets = [dict(labels=torch.tensor([0, 2]), segments=torch.tensor([[0.2, 0.1], [0.7, 0.2]])),
               dict(labels=torch.tensor([1]), segments=torch.tensor([[0.5, 0.3]]))]
    queries = dn.build(targets, [3], torch.float32, torch.device('cpu'))
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
    model = MODELS.build(dict(model_cfg(synthetic_small), denoising=dict(num_groups=2),
                              query_groups=dict(num_groups=2)))
    train_batch = next(batches(dataset(synthetic_small, 'train'), 4, 1))
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    before = model.denoising.content.detach().clone()
    # two steps: the zero-initialised segment heads and projection pass no gradient to the queries at step 1
    for _ in range(2):
        log = model.train_step(train_batch, wrapper)
    assert {'dn.loss_seg', 'dn.d0.loss_iou', 'groups.loss_cls', 'loss_actionness'} <= set(log)
    assert not torch.equal(model.denoising.content, before)
    state = {k: v for k, v in model.state_dict().items() if 'extra_query_embed' not in k and 'denoising' not in k}
    plain.load_state_dict(state)
    test_batch = next(batches(dataset(synthetic_small, 'test'), 2, 1))
    with torch.no_grad():
        a, b = model.eval().test_step(test_batch), plain.eval().test_step(test_batch)
    for x, y in zip(a, b):
        assert (x['segments'] == y['segments']).all() and (x['scores'] == y['scores']).all()
