# CPU demo: source-only DAFormer (MiT-B0, from scratch: no ImageNet weights offline) on the GTA-like demo
# source, evaluated by test.sh on held-out source images and on every target-like demo domain.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb0.py',
    '../_base_/datasets/demo_targets.py',
]
crop_size = (128, 128)
max_iters = 1000
model = dict(
    backbone=dict(pretrained=None),
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(channels=64, decoder_params=dict(embed_dims=64)))
train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='GTADataset', data_root='data/demo/gta', ann_file='train.txt', pipeline=train_pipeline))
# The DAFormer recipe (AdamW, head x10, no decay on norms, poly with linear warm-up) at a learning rate
# suited to training from scratch for a few minutes (calibrated on the demo domains).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'head': dict(lr_mult=10.0),
        'norm': dict(decay_mult=0.0),
        **{f'backbone.layers.{i}.2.': dict(decay_mult=0.0) for i in range(4)},
    }))
# `end` set explicitly: otherwise mmengine ends the schedule with the training loop, and a resumed run
# with a longer loop would keep the old end.
param_scheduler = [dict(type='PolyWarmupLR', max_iters=max_iters, warmup_iters=100, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
custom_hooks = [dict(type='TrainingCurveHook', interval=250)]
