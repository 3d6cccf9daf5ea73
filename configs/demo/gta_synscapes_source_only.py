# CPU demo of DDB, the start of every model (make demo-ddb): the source-only demo model (MiT-B0 + a 64-channel
# DAFormer head, from scratch) trained on both demo sources, the GTA-like and the Synscapes-like, for 1000
# iterations. It stands in for the ImageNet weights that DDB's teachers and students start from (none offline).
_base_ = ['./gta_source_only.py']
train_dataloader = dict(dataset=dict(_delete_=True, type='ConcatDataset', datasets=[
    dict(type='GTADataset', data_root='data/demo/gta', ann_file='train.txt', pipeline={{_base_.train_pipeline}}),
    dict(type='SynscapesDataset', data_root='data/demo/synscapes', ann_file='train.txt',
         pipeline={{_base_.train_pipeline}})]))
