# Held-out source images and the target-like demo domains (tools/make_demo_data.py, then the converters),
# each read by the real dataset class of the dataset whose format it imitates. Paths are relative to the
# folder the commands run in, like every config's data/ paths.
demo_root = 'data/demo'
demo_test_pipeline = [
    dict(type='LoadImageChecked'),
    dict(type='LoadAnnotationsChecked'),
    dict(type='PackSegInputs'),
]
eval_targets = dict(
    gta_val=dict(type='GTADataset', data_root=f'{demo_root}/gta', ann_file='val.txt',
                 pipeline=demo_test_pipeline),
    cityscapes=dict(type='CheckedCityscapesDataset', data_root=f'{demo_root}/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                    pipeline=demo_test_pipeline),
    idd=dict(type='IDDDataset', data_root=f'{demo_root}/idd',
             data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
             pipeline=demo_test_pipeline),
    acdc_fog=dict(type='ACDCDataset', data_root=f'{demo_root}/acdc', split='val', conditions=('fog',),
                  pipeline=demo_test_pipeline),
    acdc_night=dict(type='ACDCDataset', data_root=f'{demo_root}/acdc', split='val', conditions=('night',),
                    pipeline=demo_test_pipeline),
    darkzurich=dict(type='CheckedDarkZurichDataset', data_root=f'{demo_root}/darkzurich',
                    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
                    pipeline=demo_test_pipeline),
)
# What mmseg's tools and APIs read (tools/test.py, inference_model, MMSegInferencer): the Cityscapes-like val
# images, preprocessed in mmseg's own transform names. No val_dataloader: mmengine validates at the end of every
# training run that has one, and the demo's evaluation is test.sh over all of eval_targets.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CheckedCityscapesDataset', data_root=f'{demo_root}/cityscapes',
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'), pipeline=test_pipeline))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
