# Supervised Cityscapes at half resolution (the fork's "oral", i.e. oracle, runs): train resized to 1024x512,
# 512x512 crops (at most 75 % one class), flip, photometric distortion; validated on Cityscapes val.
_base_ = ['./gta_to_cityscapes_512x512.py']
cityscapes_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='CheckedCityscapesDataset',
    data_root='data/cityscapes',
    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
    pipeline=cityscapes_train_pipeline))
