# The DAFormer/HRDA/MIC optimiser recipe: AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01; the decode
# head at 10x the learning rate; no weight decay on normalisation layers; poly(1.0) decay over all 40k
# iterations multiplied by a linear warm-up over the first 1500 (from 1e-6), exactly as mmcv 1.x computed it.
max_iters = 40000
warmup_iters = 1500
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'head': dict(lr_mult=10.0),
        'pos_block': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0),
        # mmseg's MiT names its four stage-final LayerNorms `layers.<i>.2` (the original `norm1..4`).
        **{f'backbone.layers.{i}.2.': dict(decay_mult=0.0) for i in range(4)},
    }),
)
param_scheduler = [
    dict(type='PolyWarmupLR', max_iters=max_iters, power=1.0, eta_min=0.0, warmup_iters=warmup_iters,
         warmup_ratio=1e-06, end=max_iters, by_epoch=False),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
