# UDA pairs for HRDA at 1024x1024: GTA (2560x1440, rare-class sampling) -> Cityscapes train (2048x1024),
# validated on Cityscapes val at 2048x1024. The rare-class crop ratio is 2.0 (DAFormer: 0.5): the crops
# hold 4 times more pixels.
crop_size = (1024, 1024)
gta_train_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(2560, 1440), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
target_train_pipeline = [
    dict(type='LoadImageChecked'),
    # HRDA's pseudo-label margins of the full image (top, bottom, left, right), cropped with it.
    dict(type='PseudoMarginMask', margins=[30, 240, 30, 30]),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackUDATargetInputs'),
]
# The test preprocessing in mmseg's own names (mmseg.apis.inference_model reads test_pipeline, MMSegInferencer
# test_dataloader.dataset.pipeline; both drop LoadAnnotations and swap LoadImageFromFile by name).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    # Four workers decode the four large images of a step (the original used one; sampling does not depend on it).
    num_workers=4,
    pin_memory=True,
    persistent_workers=True,
    sampler=dict(type='PositionSampler'),
    dataset=dict(
        type='UDADataset',
        source=dict(type='GTADataset', data_root='data/gta',
                    data_prefix=dict(img_path='images', seg_map_path='labels'), pipeline=gta_train_pipeline),
        target=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/train'), pipeline=target_train_pipeline),
        rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=2.0)))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
