# UDA pairs for HRDA at 1024x1024: Synthia (2560x1520, rare-class sampling) -> Cityscapes train (2048x1024).
_base_ = ['./uda_gtaHR_to_cityscapesHR_1024x1024.py']
synthia_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(2560, 1520), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(1024, 1024), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(source=dict(
    _delete_=True, type='SynthiaDataset', data_root='data/synthia',
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'), pipeline=synthia_train_pipeline)))
# Synthia has 16 of the 19 classes: test.sh also reports the mIoU over those 16.
eval_classes16 = True
