# ZEETAD on ActivityNet-1.3: TSP localisation features + CLIP ViT-B/16 frame features and text tower.
_base_ = [
    '../_base_/datasets/activitynet_tsp_clip.py',
    '../_base_/models/zeetad.py',
    '../_base_/schedules/adamw_16e.py',
    '../_base_/default_runtime.py',
]
model = dict(localizer=dict(loc_dim=512, clip_dim=512, transformer=dict(num_queries=30)),
             test_cfg=dict(topk=100))
train_cfg = dict(max_epochs=15, val_interval=15)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=True, milestones=[12], gamma=0.1),
]
