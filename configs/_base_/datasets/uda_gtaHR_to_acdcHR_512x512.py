# UDA pairs for HRDA at 512x512 (the model-merging work's GTA -> ACDC setting): GTA (1280x720, rare-class
# sampling) -> ACDC train, all four conditions (960x540); validated on ACDC val at 960x540. With HRDA's
# 512x512 detail crop the detail branch sees the whole training crop.
_base_ = ['./uda_gtaHR_to_cityscapesHR_1024x1024.py']
crop_size = (512, 512)
gta_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(960, 540), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# The test preprocessing in mmseg's own names (mmseg.apis.inference_model reads test_pipeline, MMSegInferencer
# test_dataloader.dataset.pipeline; both drop LoadAnnotations and swap LoadImageFromFile by name).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(960, 540), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(
    source=dict(pipeline=gta_train_pipeline),
    target=dict(_delete_=True, type='ACDCDataset', data_root='data/acdc', split='train',
                data_prefix=dict(img_path='rgb_anon'), pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='ACDCDataset', data_root='data/acdc', split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
