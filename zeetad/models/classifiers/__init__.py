"""Proposal classifiers and the calibrated per-name score."""
from .name_scorer import CalibratedNameScorer
from .zero_shot_classifier import ZeroShotProposalClassifier, prior_logit_bias

__all__ = ['CalibratedNameScorer', 'ZeroShotProposalClassifier', 'prior_logit_bias']
