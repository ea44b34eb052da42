# ZEETAD on THUMOS14: I3D localisation features + CLIP ViT-B/16 frame features and text tower.
# Zero-shot 75/25 split 0 by default: --cfg-options split.ratio=50 split.index=3
_base_ = [
    '../_base_/datasets/thumos14_i3d_clip.py',
    '../_base_/models/zeetad.py',
    '../_base_/schedules/adamw_16e.py',
    '../_base_/default_runtime.py',
]
# The recipe's 16 epochs are 16 x 273 iterations on THUMOS14 validation (200 videos, windows of 128 at overlap 0.75,
# batch 16): a config inheriting this one onto another dataset trains about as many iterations, not epochs.
train_cfg = dict(target_iters=4400)
