# UDA pairs for HRDA at 1024x1024: GTA (2560x1440, rare-class sampling) -> IDD train (1920x1080), validated on
# IDD val at 1920x1080 (the model-merging work's GTA -> IDD setting).
_base_ = ['./uda_gtaHR_to_cityscapesHR_1024x1024.py']
target_train_pipeline = [
    dict(type='LoadImageChecked'),
    # HRDA's pseudo-label margins of the full image (top, bottom, left, right), cropped with it.
    dict(type='PseudoMarginMask', margins=[30, 240, 30, 30]),
    dict(type='Resize', scale=(1920, 1080), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(1024, 1024)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackUDATargetInputs'),
]
# The test preprocessing in mmseg's own names (mmseg.apis.inference_model reads test_pipeline, MMSegInferencer
# test_dataloader.dataset.pipeline; both drop LoadAnnotations and swap LoadImageFromFile by name).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1920, 1080), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='IDDDataset', data_root='data/idd', data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=target_train_pipeline)))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='IDDDataset', data_root='data/idd',
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
