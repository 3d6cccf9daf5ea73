# CPU demo: DACS self-training (the DAFormer recipe without the ImageNet feature distance, which needs
# ImageNet weights) from the GTA-like source to the Cityscapes-like target, with rare-class sampling.
# No ImageNet weights exist offline, so the source-only demo model stands in for the pretrained start:
# run with --cfg-options load_from=<source-only checkpoint>. Same segmentor, crop, batch of source images
# and schedule as gta_source_only_continued.py, the baseline it is compared with.
_base_ = ['./gta_source_only_continued.py']
crop_size = (128, 128)
model = dict(
    _delete_=True,
    type='DACS',
    model={{_base_.model}},
    alpha=0.999,
    pseudo_threshold=0.968,
    # No pseudo-label crop: DAFormer's 15 top / 120 bottom rows of a 512 crop, scaled to this 128 crop
    # (4 / 30 rows of the whole 128-row image), cost 0.65 mIoU on the Cityscapes-like target over 2 seeds.
    pseudo_weight_ignore_top=0,
    pseudo_weight_ignore_bottom=0,
    imnet_feature_dist_lambda=0.0)
source_pipeline = {{_base_.train_pipeline}}
target_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    sampler=dict(_delete_=True, type='PositionSampler'),
    dataset=dict(
        _delete_=True,
        type='UDADataset',
        source=dict(type='GTADataset', data_root='data/demo/gta', ann_file='train.txt',
                    pipeline=source_pipeline),
        target=dict(type='CheckedCityscapesDataset', data_root='data/demo/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/train'), pipeline=target_pipeline),
        # 3000 pixels of a 1280x720 GTA image scaled to the 256x144 demo images; the crop ratio as HRDA.
        rare_class_sampling=dict(class_temp=0.01, min_pixels=120, min_crop_ratio=0.5)))
