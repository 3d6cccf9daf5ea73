# CPU demo of DDB, the start of every model (make demo-ddb): the source-only demo model (MiT-B0 + a 64-channel
# DAFormer head, from scratch) trained on both demo sources, the GTA-like and the Synscapes-like, for 600
# iterations (1000 in make demo; fewer here to keep make demo-ddb within its 20 minutes on 2 cores). It stands in
# for the ImageNet weights that DDB's teachers and students start from (none offline).
_base_ = ['./gta_source_only.py']
max_iters = 600
param_scheduler = [dict(type='PolyWarmupLR', max_iters=max_iters, warmup_iters=100, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
train_dataloader = dict(dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
    dict(type='GTADataset', data_root='data/demo/gta', ann_file='train.txt', pipeline={{_base_.train_pipeline}}),
    dict(type='SynscapesDataset', data_root='data/demo/synscapes', ann_file='train.txt',
         pipeline={{_base_.train_pipeline}})]))
