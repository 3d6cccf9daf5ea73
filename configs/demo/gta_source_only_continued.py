# CPU demo, second phase for the baseline: the source-only model trained for 400 more iterations on the
# source alone, so that it has seen exactly as many iterations as the DACS models of the demo, which start
# from the same source-only checkpoint. Run with --cfg-options load_from=<source-only checkpoint>.
_base_ = ['./gta_source_only.py']
max_iters = 400
param_scheduler = [dict(type='PolyWarmupLR', max_iters=max_iters, warmup_iters=20, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='TrainingCurveHook', interval=100)]
