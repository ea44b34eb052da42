"""One typed name with the calibrated per-name score: the score depends on the name, and the shuffled control
moves it (with the shipped softmax a single name scores 1: docs/scoring.md)."""
import numpy as np
import torch
from mmengine.config import Config

import zeetad.engine  # noqa: F401
from zeetad.datasets import tad_collate
from zeetad.registry import MODELS
from testing_utils import ROOT
from test_model_zeetad import dataset, model_cfg

SHIPPED = Config.fromfile(str(ROOT / 'configs/_base_/models/zeetad.py')).model
NAME_SCORER = dict(type='CalibratedNameScorer', holdout_classes=4, mode='factorized', clip_fallback=False,
                   holdout_loss='ignore')  # the opt-in settings docs/naming.md measured


def shipped_model(data):
    """The tiny test model with the shipped test_cfg, switched to the calibrated per-name score."""
    torch.manual_seed(0)
    cfg = model_cfg(data)
    cfg['test_cfg'] = dict(SHIPPED.test_cfg, topk=20, autocast=None, class_score='calibrated')
    cfg['name_scorer'] = dict(NAME_SCORER)
    model = MODELS.build(cfg).eval()
    if getattr(model, 'name_scorer', None) is not None:  # a fit stands in: every feature counts (tests below fit for real)
        scorer = model.name_scorer
        scorer.reference_text = model.classifier.text_embeddings(['run', 'jump', 'swim']).float()
        scorer.weight.copy_(torch.tensor([0.5, 1.0, 0.05, 1.0, 0.0]))
        scorer.bias.fill_(-2.0)
        scorer.fitted.fill_(True)
    return model


def predict_scores(model, data, names, **test_cfg):
    batch = tad_collate([dataset(data, 'test')[i] for i in range(2)])
    model.test_cfg.update(class_names=names, **test_cfg)
    with torch.no_grad():
        out = model.test_step(batch)
    return np.concatenate([np.sort(r['scores']) for r in out])


def test_one_name_scores_depend_on_the_name(synthetic_small):
    model = shipped_model(synthetic_small)
    a = predict_scores(model, synthetic_small, ['high jump'])
    b = predict_scores(model, synthetic_small, ['kneading dough'])
    assert np.abs(a - b).max() > 1e-3  # a softmax over one name is 1: both were the actionness alone


def test_shuffled_control_with_one_name_changes_the_scores(synthetic_small):
    model = shipped_model(synthetic_small)
    plain = predict_scores(model, synthetic_small, ['high jump'])
    shuffled = predict_scores(model, synthetic_small, ['high jump'], shuffle_class_names=True)
    assert np.abs(plain - shuffled).max() > 1e-3
