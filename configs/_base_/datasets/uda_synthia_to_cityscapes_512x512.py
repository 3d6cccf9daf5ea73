# UDA pairs for DAFormer at 512x512: Synthia (1280x760, rare-class sampling) -> Cityscapes train.
_base_ = ['./uda_gta_to_cityscapes_512x512.py']
synthia_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(1280, 760), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(source=dict(
    _delete_=True, type='SynthiaDataset', data_root='data/synthia',
    data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'), pipeline=synthia_train_pipeline)))
# Synthia has 16 of the 19 classes: test.sh also reports the mIoU over those 16.
eval_classes16 = True
