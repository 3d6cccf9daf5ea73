# CPU demo, the baseline of make demo-ddb: DACS (as gta2cityscapes_dacs.py) on both demo sources, GTA-like +
# Synscapes-like, -> Cityscapes-like, from the same source-only model (gta_synscapes_source_only.py, as load_from), for
# the iterations of the DDB demo's whole round (two teachers of 200 and a student of 200).
_base_ = ['./gta2cityscapes_dacs.py']
max_iters = 600
param_scheduler = [dict(type='PolyWarmupLR', max_iters=max_iters, warmup_iters=20, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1))
train_dataloader = dict(dataset=dict(
    _delete_=True, type='UDADataset',
    source=[dict(type='GTADataset', data_root='data/demo/gta', ann_file='train.txt',
                 pipeline={{_base_.source_pipeline}}),
            dict(type='SynscapesDataset', data_root='data/demo/synscapes', ann_file='train.txt',
                 pipeline={{_base_.source_pipeline}})],
    target=dict(type='CheckedCityscapesDataset', data_root='data/demo/cityscapes',
                data_prefix=dict(img_path='leftImg8bit/train'), pipeline={{_base_.target_pipeline}})))
