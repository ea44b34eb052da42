"""The calibrated per-name score: independence from the other typed names, the fit, held-out classes, checkpoints."""
import numpy as np
import pytest
import torch

import zeetad.engine  # noqa: F401
from zeetad.apis import format_detections
from zeetad.datasets import tad_collate
from zeetad.engine.checkpoint_io import check_state_dict_fits
from zeetad.models.classifiers.name_scorer import FEATURES, CalibratedNameScorer
from zeetad.registry import MODELS
from test_model_one_name import shipped_model
from test_model_zeetad import dataset


def test_a_names_score_ignores_the_other_typed_names(synthetic_small):
    model = shipped_model(synthetic_small)
    batch = model.data_preprocessor(tad_collate([dataset(synthetic_small, 'test')[0]]), False)
    with torch.no_grad():
        out = model._run(batch['inputs'], ['high jump'], last_only=True)
        text = model.classifier.text_embeddings(['high jump', 'pole vault', 'diving']).float()
        alone = model.name_scorer.score(model, out, text[:1])
        among = model.name_scorer.score(model, out, text)
    torch.testing.assert_close(alone[..., 0], among[..., 0], rtol=0, atol=1e-6)


def synthetic_fit_data(n=4000, k=4, seed=0):
    """Features where CLIP's evidence and actionness decide and the trained logit is noise."""
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, k, len(FEATURES), generator=g)
    w = torch.tensor([0.0, 0.0, 1.5, 1.0, 2.0])
    y = torch.bernoulli((feats @ w - 3.0).sigmoid(), generator=g)
    return feats, y, w


def test_fit_recovers_a_known_calibration_and_is_never_worse_than_clip():
    feats, y, w = synthetic_fit_data()
    scorer = CalibratedNameScorer(embed_dim=8, l2=1e-4)
    stats = scorer.fit(feats, y, torch.nn.functional.normalize(torch.randn(3, 8), dim=-1))
    assert bool(scorer.fitted) and int(scorer.num_reference) == 3
    np.testing.assert_allclose(scorer.weight.numpy(), w.numpy(), atol=0.2)
    assert float(scorer.bias) == pytest.approx(-3.0, abs=0.2)
    prob = (feats @ scorer.weight + scorer.bias).sigmoid()
    assert float(prob.mean()) == pytest.approx(float(y.mean()), abs=0.01)  # calibrated on average
    used = stats['right_name_fused'] if stats['used'] == 'fused' else stats['right_name_clip']
    assert used >= stats['right_name_clip']


def test_fit_refuses_too_few_matches():
    feats, y, _ = synthetic_fit_data(n=50)
    with pytest.raises(ValueError, match='min_positives'):
        CalibratedNameScorer(embed_dim=8, min_positives=10_000).fit(feats, y, torch.zeros(0, 8))


def test_held_out_classes_are_localised_but_never_named():
    scorer = CalibratedNameScorer(holdout_classes=2, embed_dim=8)
    names = ['a', 'b', 'c', 'd', 'e', 'f']
    held = scorer.holdout_names(names)
    assert len(held) == 2 and held == scorer.holdout_names(list(reversed(names)))  # by name, not order
    kept, targets = scorer.training_names(names, [dict(labels=torch.arange(6), segments=torch.rand(6, 2))])
    assert kept == [n for n in names if n not in held]
    expected = [kept.index(n) if n in kept else -1 for n in names]
    assert targets[0]['labels'].tolist() == expected
    criterion = MODELS.build(dict(type='SetCriterion', matcher=dict(type='HungarianMatcher')))
    logits = torch.randn(1, 6, len(kept), requires_grad=True)
    seg = torch.rand(1, 6, 2) * 0.5 + 0.25
    target = dict(targets[0], segments=torch.rand(6, 2) * 0.5 + 0.25)
    losses = criterion(dict(pred_logits=logits, pred_segments=seg), [target])
    assert all(torch.isfinite(v) for v in losses.values())
    assert len(CalibratedNameScorer(holdout_classes=4).holdout_names(names)) == 2  # at most a third
    assert CalibratedNameScorer().holdout_names(['a', 'b']) == []


def test_fitted_scorer_survives_a_checkpoint(synthetic_small):
    model = shipped_model(synthetic_small)
    fresh = shipped_model(synthetic_small)
    fresh.name_scorer.reference_text = torch.zeros(0, model.classifier.embed_dim)
    state = model.state_dict()
    check_state_dict_fits(fresh, state, 'ckpt')
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.name_scorer.reference_text, model.name_scorer.reference_text)


def test_detect_table_says_when_no_typed_name_was_found():
    table = format_detections({'v': [dict(label='high jump', score=0.2, segment=[1.0, 2.0])]}, score_thr=0.5)
    assert table.splitlines() == ['v: 0 detections with score >= 0.5 (of 1)',
                                  '  no typed name found with score >= 0.5']


def test_factorized_fit_is_the_name_given_an_action_times_actionness():
    feats, y, _ = synthetic_fit_data(n=6000)
    scorer = CalibratedNameScorer(embed_dim=8, mode='factorized', clip_fallback=False, l2=1e-4)
    stats = scorer.fit(feats, y, torch.zeros(0, 8))
    matched = y.bool().any(1)
    assert stats['rows'] == int(matched.sum()) * y.shape[1]  # only proposals that match an instance
    assert float(scorer.weight[FEATURES.index('actionness')]) == 0.0  # actionness multiplies, it is not fitted
    assert float(scorer.weight[FEATURES.index('clip')]) > 0.5  # the informative feature carries the fit
    with pytest.raises(ValueError, match='model.name_scorer.mode'):
        CalibratedNameScorer(mode='both')


def test_detect_output_says_what_a_score_means(tmp_path):
    from zeetad.apis import write_outputs
    from zeetad.apis.detect import DetectionRun
    from zeetad.models.classifiers.name_scorer import score_meaning
    run = DetectionRun(method='zeetad', classes=['high jump'], videos={},
                       results={'v': [dict(label='high jump', score=0.7, segment=[1.0, 2.0])]},
                       score_meaning=score_meaning('calibrated'))
    files = write_outputs(run, str(tmp_path / 'det.json'), table_thr=0.5)
    table = open(files['table']).read()
    assert 'score: the probability that the segment shows the named action' in table
    assert 'same scale whatever names are typed' in table
    assert score_meaning('softmax').startswith("the name's share among the typed names")
