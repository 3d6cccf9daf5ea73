# UDA pairs for DAFormer at 512x512: GTA (1280x720, rare-class sampling) -> Cityscapes train (1024x512),
# validated on Cityscapes val.
_base_ = ['./gta_to_cityscapes_512x512.py']
target_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    sampler=dict(_delete_=True, type='PositionSampler'),
    dataset=dict(
        _delete_=True,
        type='UDADataset',
        source={{_base_.train_dataloader.dataset}},
        target=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/train'), pipeline=target_train_pipeline),
        rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
