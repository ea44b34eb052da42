"""ZEETAD end to end on a small synthetic dataset: training, checkpoints, open vocabulary, baselines' switches."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint

import zeetad.engine  # noqa: F401
from zeetad.datasets import TADDataset, tad_collate
from zeetad.registry import MODELS
from zeetad.testing.tiny_clip import TINY_CLIP_CONFIG
from testing_utils import ROOT

SPLIT = dict(mode='zero_shot', root=str(ROOT / 'data' / 'splits'), dataset='THUMOS14', ratio=75, index=0)


def model_cfg(data, **localizer):
    return dict(
        type='ZEETAD',
        localizer=dict(type='DualLocalizer', loc_dim=data['loc_dim'], clip_dim=data['clip_dim'], d_model=32,
                       transformer=dict(type='DeformableTransformer1D', nhead=4, num_points=2, enc_layers=1,
                                        dec_layers=2, dim_ff=64, dropout=0.0, num_queries=10),
                       actionness=dict(type='ActionnessHead', num_points=4, hidden_dim=32, dropout=0.0), **localizer),
        classifier=dict(type='ZeroShotProposalClassifier', bias_init=-4.59512,
                        text_encoder=dict(type='CLIPTextEncoder', model_config_file=TINY_CLIP_CONFIG,
                                          pretrained=data['clip_ckpt'], num_adapter_blocks=1, adapter_width=16)),
        criterion=dict(type='SetCriterion', matcher=dict(type='HungarianMatcher')),
        test_cfg=dict(topk=20, class_score='sigmoid', autocast=None))


def dataset(data, role):
    return TADDataset(
        ann_file=data['ann_file'], subset='Validation' if role == 'train' else 'Test', role=role, split=SPLIT,
        loc_features=dict(format='npy', root=data['loc_root'], dim=data['loc_dim'],
                          timebase=dict(stride=4, window=16, fps=None)),
        clip_features=dict(format='hdf5', path=data['clip_path'], dim=data['clip_dim'],
                           timebase=dict(sample_fps=2.0)),
        window_size=64, window_overlap=0.5 if role == 'train' else 0.25, test_mode=role == 'test', verbose=False)


def batches(ds, size, count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield tad_collate([ds[int(i)] for i in rng.choice(len(ds), size, replace=False)])


@pytest.fixture(scope='module')
def trained(synthetic_small):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(synthetic_small))
    ds = dataset(synthetic_small, 'train')
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3), clip_grad=dict(max_norm=1.0))
    losses = []
    for batch in batches(ds, 8, 40):
        losses.append(float(model.train_step(batch, wrapper)['loss'].detach()))
    return model, losses


def test_training_reduces_loss(trained):
    _, losses = trained
    assert np.isfinite(losses).all()
    assert np.mean(losses[-8:]) < 0.75 * np.mean(losses[:4])


def test_adapters_train_and_tower_stays_frozen(synthetic_small):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(synthetic_small))
    tower_before = copy.deepcopy(model.classifier.text_encoder.tower.state_dict())
    ds = dataset(synthetic_small, 'train')
    wrapper = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    for batch in batches(ds, 4, 3):
        model.train_step(batch, wrapper)
    adapter = model.classifier.text_encoder.adapters[0]
    assert adapter.up.weight.abs().sum() > 0  # zero-initialised, moved by training
    for key, value in model.classifier.text_encoder.tower.state_dict().items():
        assert torch.equal(value, tower_before[key]), key


def test_predictions_are_seconds_within_video(trained, synthetic_small):
    model, _ = trained
    model.eval()
    ds = dataset(synthetic_small, 'test')
    batch = tad_collate([ds[i] for i in range(4)])
    with torch.no_grad():
        preds = model.test_step(batch)
    assert len(preds) == 4
    for pred, sample in zip(preds, batch['data_samples']):
        assert pred['video_id'] == sample['video_id']
        assert pred['segments'].shape == (20, 2) and pred['scores'].shape == (20,)
        assert (pred['segments'] >= 0).all() and (pred['segments'] <= sample['duration']).all()
        assert (pred['segments'][:, 1] >= pred['segments'][:, 0]).all()
        assert (np.diff(pred['scores']) <= 1e-7).all()  # sorted
        assert set(pred['labels'].tolist()) <= set(range(len(sample['classes'])))


def test_checkpoint_round_trip_gives_identical_predictions(trained, synthetic_small, tmp_path):
    model, _ = trained
    model.eval()
    path = str(tmp_path / 'model.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, path)
    torch.manual_seed(123)  # a different init, overwritten by the checkpoint
    fresh = MODELS.build(model_cfg(synthetic_small)).eval()
    load_checkpoint(fresh, path, map_location='cpu', strict=True)
    ds = dataset(synthetic_small, 'test')
    batch = tad_collate([ds[i] for i in range(3)])
    with torch.no_grad():
        a, b = model.test_step(batch), fresh.test_step(batch)
    for x, y in zip(a, b):
        assert np.array_equal(x['segments'], y['segments']) and np.array_equal(x['scores'], y['scores'])
        assert np.array_equal(x['labels'], y['labels'])


def test_open_vocabulary_and_shuffled_control(trained, synthetic_small):
    model, _ = trained
    model.eval()
    ds = dataset(synthetic_small, 'test')
    batch = tad_collate([ds[0]])
    names = ['HighJump', 'a person falling', 'PoleVault']
    model.test_cfg.update(class_names=names)
    try:
        with torch.no_grad():
            out = model(**model.data_preprocessor(batch), mode='tensor')
        assert out['logits'].shape[-1] == 3
        model.test_cfg.update(class_names=None, shuffle_class_names=True)
        labels, shuffled = model._class_names(batch['data_samples'], training=False)
        original = list(batch['data_samples'][0]['classes'])
        assert labels == original  # label k still means class k: only its text moves
        assert sorted(shuffled) == sorted(original)
        assert all(a != b for a, b in zip(shuffled, original))  # no class keeps its own text
    finally:
        model.test_cfg.update(class_names=None, shuffle_class_names=False)


def run_test_loop(model, ds, out_file, **test_cfg):
    """What mmengine's TestLoop does with zeetad's test config: ``test_step`` per batch, ``TADMetric.process``,
    then ``evaluate`` with the dataset's meta (``--out`` -> ``out_file``)."""
    import json
    import warnings
    from zeetad.evaluation import TADMetric
    metric = TADMetric(out_file=str(out_file))
    metric.dataset_meta = ds.metainfo
    saved = dict(model.test_cfg)
    model.test_cfg.update(test_cfg)
    try:
        for i in range(0, len(ds), 8):
            batch = tad_collate([ds[j] for j in range(i, min(i + 8, len(ds)))])
            with torch.no_grad():
                metric.process(batch, model.test_step(batch))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            metrics = metric.evaluate(len(ds))
    finally:
        model.test_cfg.clear()
        model.test_cfg.update(saved)
    with open(out_file) as f:
        results = json.load(f)['results']
    # (video, label, start, end, score); reordering the names may move scores by float rounding only.
    rows = sorted((v, d['label'], *(round(x, 3) for x in d['segment']), d['score'])
                  for v, dets in results.items() for d in dets)
    return metrics, rows


def test_test_loop_names_detections_by_the_names_they_were_scored_against(trained, synthetic_small, tmp_path):
    model, _ = trained
    model.eval()
    ds = dataset(synthetic_small, 'test')
    classes = list(ds.metainfo['classes'])
    base, base_rows = run_test_loop(model, ds, tmp_path / 'base.json')
    assert base['average_mAP'] > 0.05
    # The same names in another order score the same texts: same detections, same names, same mAP.
    rev, rev_rows = run_test_loop(model, ds, tmp_path / 'rev.json', class_names=classes[::-1])
    assert [r[:4] for r in rev_rows] == [r[:4] for r in base_rows]
    np.testing.assert_allclose([r[4] for r in rev_rows], [r[4] for r in base_rows], rtol=0, atol=1e-5)
    assert rev == pytest.approx(base, abs=1e-6)
    # More names than the dataset has classes: the extra ones are detected, named, and ignored by the mAP.
    extra = ['a person falling', 'juggling balls', 'riding a horse']
    more, more_rows = run_test_loop(model, ds, tmp_path / 'more.json', class_names=classes + extra)
    labels = {r[1] for r in more_rows}
    assert labels <= set(classes + extra) and labels & set(extra) and labels & set(classes)
    import json
    from zeetad.evaluation import evaluate_detections
    with open(tmp_path / 'more.json') as f, pytest.warns(UserWarning, match='unscored label'):
        ref = evaluate_detections(ds.metainfo['ground_truth'], json.load(f)['results'], classes=classes)
    assert more['average_mAP'] == pytest.approx(ref['average'], abs=1e-12)
    assert ref['ignored_predictions']['unknown_label'] == sum(r[1] in extra for r in more_rows)


def test_two_stage_blocks_classification_gradient(synthetic_small):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(synthetic_small, detach_semantics=True))
    ds = dataset(synthetic_small, 'train')
    batch = model.data_preprocessor(next(batches(ds, 4, 1)), True)
    losses = model(**batch, mode='loss')
    losses['loss_cls'].backward()
    grads = [p.grad for p in model.localizer.parameters() if p.grad is not None]
    assert all(g.abs().sum() == 0 for g in grads)
    assert model.classifier.proj.weight.grad.abs().sum() > 0


def test_end_to_end_classification_gradient_reaches_segments(synthetic_small):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(synthetic_small))
    ds = dataset(synthetic_small, 'train')
    batch = model.data_preprocessor(next(batches(ds, 4, 1)), True)
    losses = model(**batch, mode='loss')
    losses['loss_cls'].backward()
    # through the soft segment mask, naming an action moves where the localiser puts it
    head = model.localizer.transformer.segment_heads[-1]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
