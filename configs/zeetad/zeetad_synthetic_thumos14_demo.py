# The README's demo: ZEETAD on the synthetic THUMOS14-shaped data, sized for 2 CPU cores (<= 15 min end to end).
# Same architecture family as the full config, smaller width/depth and a short schedule.
_base_ = ['./zeetad_synthetic_thumos14.py']

# DN-DETR denoising queries in training (3 noised copies of every ground-truth segment, dropped at inference):
# better than without them on this config and on the hard benchmark (docs/ablations.md).
model = dict(
    localizer=dict(d_model=128,
                   transformer=dict(nhead=4, enc_layers=2, dec_layers=2, dim_ff=256, num_queries=30),
                   actionness=dict(hidden_dim=128)),
    denoising=dict(num_groups=3))
train_dataloader = dict(batch_size=16, dataset=dict(window_overlap=0.5))
test_dataloader = dict(batch_size=32)
val_dataloader = test_dataloader
# 5 epochs x 141 iterations on the demo's split (75/25 #0): a dataset inheriting this config trains ~700 iterations
# whatever its size; the epoch milestone (4 of 5) is scaled with the epoch count.
train_cfg = dict(max_epochs=5, val_interval=100, target_iters=700)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', by_epoch=True, milestones=[4], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=5e-4))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
