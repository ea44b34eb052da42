default_scope = 'zeetad'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # zeetad switches to gloo when there is no GPU
)

# TensorBoard event files (loss terms, learning rate, validation mAP) next to scalars.json; without the
# tensorboard package installed it warns once and keeps the local files.
vis_backends = [dict(type='LocalTensorboardVisBackend', tensorboard=True)]
# No fixed name: mmengine keeps one visualizer per name per process, so each runner gets its own.
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
# 'auto' (resolved by zeetad.engine.apply_engine_defaults): deterministic kernels on CPU, where torch has one for
# every op we use and the cost is small, so one seed + one thread count gives bit-identical runs; off on CUDA, where
# torch would refuse to run (cuBLAS workspace variable, grid_sample backward; docs/reliability.md).
randomness = dict(seed=0, deterministic='auto')
