from .formatting import PackTADInputs

__all__ = ['PackTADInputs']
