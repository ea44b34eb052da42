# ZEETAD on the synthetic THUMOS14-shaped dataset: the README's demo (train on split 0 of 75/25, test zero-shot).
_base_ = [
    '../_base_/datasets/synthetic_thumos14.py',
    '../_base_/models/zeetad.py',
    '../_base_/schedules/adamw_16e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    localizer=dict(loc_dim={{_base_.loc_features.dim}}, clip_dim={{_base_.clip_features.dim}}),
    classifier=dict(text_encoder={{_base_.text_encoder}}))
# 16 epochs x 273 iterations here (the real THUMOS14 windows): inherited onto another dataset, the iteration
# count stays (train_cfg.target_iters, docs/schedules.md).
train_cfg = dict(target_iters=4400)
