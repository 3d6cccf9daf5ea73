# Union-set adaptation's optimisation (ORIGINALS_2.md 5.2), for every training stage: SGD, lr 2.5e-4 (the
# DeepLab classifier x10), momentum 0.9, weight decay 5e-4, poly decay with power 0.9, 80k iterations, batch 1
# (the checkpoint every 5000 iterations: configs/_base_/unionset/dlv2_r101_sgd_80k.py).
max_iters = 80000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
train_dataloader = dict(batch_size=1, num_workers=2, persistent_workers=True,
                        sampler=dict(type='InfiniteSampler', shuffle=True))
