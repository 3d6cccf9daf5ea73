# Runtime shared by every experiment: mmseg scope, our modules, logging, checkpoints, reproducibility.
default_scope = 'mmseg'
custom_imports = dict(imports=['daseg'], allow_failed_imports=False)
runner_type = 'DasegRunner'
env_cfg = dict(
    # cuDNN autotuning picks kernels per machine, a known source of run-to-run differences (MIC#9);
    # enable it with --cfg-options env_cfg.cudnn_benchmark=True when speed matters more.
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
randomness = dict(seed=0, deterministic=False)
log_processor = dict(by_epoch=False, window_size=50)
log_level = 'INFO'
load_from = None
resume = False
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
custom_hooks = [dict(type='TrainingCurveHook', interval=500)]
# Debug pictures of the UDA step (source, target, pseudo-label, mix, HRDA attention) in <work_dir>/debug every
# N iterations; 0: none. E.g. --cfg-options debug_img_interval=1000.
debug_img_interval = 0
