"""Test oracles and stand-in models: what the tests, benchmarks and the synthetic demo use instead of
downloaded weights or an official evaluator. Not part of the detection library itself (mmdetection's
``mmdet/testing``).

- :mod:`.tiny_clip`: a tiny randomly initialised open_clip CLIP (``TINY_CLIP_CONFIG``, ``build_random_clip``,
  ``make_random_clip_checkpoint``), loaded back through the real ``pretrained=PATH`` path.
- :mod:`.tiny_lvlm`: random LLaVA-architecture LVLM folders (``make_tiny_lvlm``) for the ZEAL LVLM stage.
- :mod:`.synthetic_curves`: ground-truth-shaped ZEAL confidence curves (stand in for an LVLM's answers).
- :mod:`.synthetic_eval`: ZEAL's interval stage scored on those curves (``evaluate_synthetic``).
- :mod:`.reference`: straightforward loop implementations of tIoU, AP, mAP and Soft-NMS, the yardstick of
  the vectorised code.

Import the submodule you need; importing this package imports nothing heavy.
"""
