from .augment import FeatureNoise
from .formatting import PackTADInputs

__all__ = ['FeatureNoise', 'PackTADInputs']
