# UDA pairs for HRDA at 1024x1024: Cityscapes (2048x1024, rare-class sampling) -> ACDC train, all four
# conditions (1920x1080); validated on ACDC val at 1920x1080.
crop_size = (1024, 1024)
cs_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='Resize', scale=(1920, 1080), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# The test preprocessing in mmseg's own names (mmseg.apis.inference_model reads test_pipeline, MMSegInferencer
# test_dataloader.dataset.pipeline; both drop LoadAnnotations and swap LoadImageFromFile by name).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1920, 1080), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=4,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='PositionSampler'),
    dataset=dict(
        type='UDADataset',
        source=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
                    pipeline=cs_train_pipeline),
        target=dict(type='ACDCDataset', data_root='data/acdc', split='train',
                    data_prefix=dict(img_path='rgb_anon'), pipeline=target_train_pipeline),
        rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=2.0)))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ACDCDataset', data_root='data/acdc', split='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
