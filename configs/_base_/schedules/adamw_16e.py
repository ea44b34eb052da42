# TadTR's THUMOS14 recipe: AdamW 2e-4, wd 1e-4, 16 epochs, step at 14, clip 0.1; the linear layers that place
# samples (sampling offsets, initial reference segments) at 0.1x the rate (TadTR's lr_linear_proj_mult).
# StepsTargetEpochTrainLoop: an epoch loop (exact mid-epoch resume) that, given train_cfg.target_iters, picks the
# epoch count giving about that many iterations on the dataset it runs on and scales the epoch milestones with it.
train_cfg = dict(type='StepsTargetEpochTrainLoop', max_epochs=16, val_interval=16, target_iters=None)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    # fused: one kernel over all parameters (CPU since torch 2.4, CUDA), ~3-4x faster than the per-tensor loop
    # on CPU; the same update up to float rounding (tests/models/test_model_speed_paths.py).
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4, fused=True),
    clip_grad=dict(max_norm=0.1, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        'sampling_offsets': dict(lr_mult=0.1),
        'reference_head': dict(lr_mult=0.1),
        'text_encoder': dict(lr_mult=1.0),  # the text adapters (the tower itself is frozen)
        'classifier.proj': dict(lr_mult=1.0),  # semantic embedding -> CLIP space (docs/ablations.md)
    }))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', by_epoch=True, milestones=[14], gamma=0.1),
]

# Batch size is per process; the LR above is for 16 samples in total.
auto_scale_lr = dict(enable=False, base_batch_size=16)
