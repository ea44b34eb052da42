# ZEETAD on the synthetic ActivityNet-shaped data (tools/data/make_synthetic_data.py --shape activitynet): the full
# ActivityNet config (TSP grid of 16 frames at 15 fps, whole videos resized to 128 steps, class-agnostic
# Soft-NMS, tIoU 0.5:0.05:0.95, train on `training`, test on `validation`), with the synthetic feature files,
# the tiny random CLIP that generated them, and a model and schedule sized for 2 CPU cores.
# Split: 75/25 split 0 (150 seen / 50 unseen); --cfg-options split.ratio=50 for 100/100.
_base_ = ['./zeetad_anet_tsp_clip.py']

data_root = 'data/synthetic_activitynet'
ann_file = data_root + '/annotations.json'
# Feature files keep the csv's v_ prefix, the annotation ids do not (as with the released TSP features).
loc_features = dict(format='npy', root=data_root + '/features/loc', prefix='v_', suffix='.npy', dim=512,
                    timebase=dict(stride=16, window=16, fps=15))
clip_features = dict(format='hdf5', path=data_root + '/features/clip.h5', prefix='v_', dim=256,
                     timebase=dict(sample_fps=1.0, offset_s=0.0))
text_encoder = dict(type='CLIPTextEncoder', model_name='zeetad-tiny-clip',
                    model_config_file='configs/_base_/clip/zeetad-tiny-clip.json',
                    pretrained=data_root + '/clip/tiny_clip.pt', num_adapter_blocks=2, adapter_width=64)

train_dataloader = dict(batch_size=16, dataset=dict(
    ann_file=ann_file, loc_features=loc_features, clip_features=clip_features))
test_dataloader = dict(batch_size=32, dataset=dict(
    ann_file=ann_file, loc_features=loc_features, clip_features=clip_features))
val_dataloader = test_dataloader

model = dict(
    localizer=dict(loc_dim=512, clip_dim=256, d_model=128,
                   transformer=dict(nhead=4, enc_layers=2, dec_layers=2, dim_ff=256, num_queries=30),
                   actionness=dict(hidden_dim=128)),
    classifier=dict(text_encoder=text_encoder))

train_cfg = dict(max_epochs=12, val_interval=100)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=True, milestones=[10], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
