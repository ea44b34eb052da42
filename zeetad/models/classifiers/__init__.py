"""Proposal classifiers."""
from .zero_shot_classifier import ZeroShotProposalClassifier, prior_logit_bias

__all__ = ['ZeroShotProposalClassifier', 'prior_logit_bias']
