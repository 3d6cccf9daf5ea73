# The user's fork: source-only ConvNeXt-B + 512-channel DAFormer head on GTA (1280x720, 512 crops, flip,
# photometric distortion), validated on Cityscapes. The fork's poly10 schedule (min_lr 1e-4 above the base rate,
# so the encoder's rate rose during training) and optimizer_config=None (no optimiser hook, i.e. no update) are
# replaced by the DAFormer recipe at 8e-5. Needs pretrained/convnext_base.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_convnextB.py',
    '../_base_/datasets/gta_to_cityscapes_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_convnext_poly10warm_40k.py',
]
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='Resize', scale=(1280, 720), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 512), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]))
