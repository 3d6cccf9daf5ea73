# UDA pairs for HRDA at 1024x1024: GTA (2560x1440, rare-class sampling) -> Dark Zurich night train
# (unlabelled, 1920x1080), validated on Dark Zurich val at 1920x1080.
_base_ = ['./uda_gtaHR_to_iddHR_1024x1024.py']
# Without IDD's pseudo-label margins (HRDA applies them to Cityscapes-like images only).
target_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(1920, 1080), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(1024, 1024)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
    data_prefix=dict(img_path='rgb_anon/train/night'), pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
