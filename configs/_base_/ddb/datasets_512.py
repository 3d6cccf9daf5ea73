# DDB's data at 512x512 crops (ORIGINALS_2.md 4.6). Sources: GTA and Synscapes resized to 1280 wide (keep ratio)
# and cropped at 512 with at most 75 % of one class; the student's source pipeline adds photometric distortion
# (DDB's uda_*_512x512_pmd.py). Targets: Cityscapes train resized to 1024x512, Mapillary train resized to 512 high
# (keep ratio), both cropped at 512. Validation: Cityscapes val at 1024x512, Mapillary's half-resolution val copy
# resized to 1024x512 (keep ratio).
crop_size = (512, 512)


def _source(pmd):
    return [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'),
            dict(type='Resize', scale=(1280, 720), keep_ratio=True),
            dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75), dict(type='RandomFlip', prob=0.5)] + (
        [dict(type='PhotoMetricDistortion')] if pmd else []) + [dict(type='PackSegInputs')]


def _target(scale):
    return [dict(type='LoadImageChecked'), dict(type='Resize', scale=scale, keep_ratio=True),
            dict(type='RandomCrop', crop_size=crop_size), dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')]


def _val(scale):
    return [dict(type='LoadImageChecked'), dict(type='Resize', scale=scale, keep_ratio=True),
            dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]


def _gta(pmd):
    return dict(type='GTADataset', data_root='data/gta', data_prefix=dict(img_path='images', seg_map_path='labels'),
                pipeline=_source(pmd))


def _synscapes(pmd):
    return dict(type='SynscapesDataset', data_root='data/synscapes', pipeline=_source(pmd))


gta, gta_pmd = _gta(False), _gta(True)
synscapes, synscapes_pmd = _synscapes(False), _synscapes(True)
cityscapes = dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                  data_prefix=dict(img_path='leftImg8bit/train'), pipeline=_target((1024, 512)))
# 512 high whatever the width: mmseg's keep-ratio Resize fits the image into (a very wide side, 512).
mapillary = dict(type='MapillaryCSDataset', data_root='data/mapillary',
                 data_prefix=dict(img_path='training/images', seg_map_path='cityscapes_trainIdLabel/train/label'),
                 pipeline=_target((4096, 512)))
eval_targets = dict(
    cityscapes=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                    pipeline=_val((1024, 512))),
    mapillary=dict(type='MapillaryCSDataset', data_root='data/mapillary',
                   data_prefix=dict(img_path='half/val_img', seg_map_path='half/val_label'), pipeline=_val((1024, 512))),
)
train_dataloader = dict(batch_size=4, num_workers=4, pin_memory=True, persistent_workers=True,
                        sampler=dict(type='PositionSampler'), dataset=dict(type='UDADataset', source=gta,
                                                                           target=cityscapes))
# What mmseg's tools and APIs read (inference_model, MMSegInferencer, tools/test.py): Cityscapes val at 1024x512
# in mmseg's own transform names. The pipeline's stages train without validation.
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1024, 512), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_dataloader = dict(batch_size=1, num_workers=4, persistent_workers=True,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                                    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                                    pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
