# CPU demo of union-set adaptation (make demo-unionset): the GTA-like and SYNTHIA-like demo sources in setting 'p'
# (SYNTHIA-like labels road..vegetation, sky, person, rider, motorcycle, bicycle; GTA-like road..sky, car, truck,
# bus, train) adapt to the Cityscapes-like target, which needs all 19 classes: every stage and loss of the original,
# full demo images, batch 1. The branch is the main demo's model (MiT-B0 + a 64-channel DAFormer head, from
# scratch: no pretrained weights exist offline), not DeepLab-v2: trained from scratch for 500 iterations on the
# SYNTHIA-like source, a DeepLab-v2 ResNet-18 reached 6.21 mIoU on the Cityscapes-like val set and MiT-B0 11.77
# (AdamW 1e-3, measured here). AdamW at the main demo's rate, not the original's SGD, for the same reason.
_base_ = ['../_base_/default_runtime.py']
demo_root = 'data/demo'
model = dict(
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, size_divisor=8, pad_val=0, seg_pad_val=255),
    backbone=dict(type='MiT', arch='b0', pretrained=None),
    decode_head=dict(
        type='DAFormerHead', in_channels=[32, 64, 160, 256], in_index=[0, 1, 2, 3], channels=64, dropout_ratio=0.1,
        num_classes=19, norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
        decoder_params=dict(embed_dims=64, fusion_cfg=dict(
            type='aspp', sep=True, dilations=(1, 6, 12, 18), pool=False, act_cfg=dict(type='ReLU'),
            norm_cfg=dict(type='BN', requires_grad=True)))),
    align_corners=False)
labelled = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]
images = [dict(type='LoadImageChecked'), dict(type='PackSegInputs')]
stages = dict(
    type='UnionSetStages',
    setting='p',
    sources=dict(
        gta=dict(type='GTADataset', data_root=f'{demo_root}/gta', ann_file='train.txt', pipeline=labelled),
        synthia=dict(type='SynthiaDataset', data_root=f'{demo_root}/synthia', ann_file='train.txt',
                     pipeline=labelled)),
    target_images=dict(type='CheckedCityscapesDataset', data_root=f'{demo_root}/cityscapes',
                       data_prefix=dict(img_path='leftImg8bit/train'), pipeline=images),
    target_train_pipeline=labelled,
    target_val=dict(type='CheckedCityscapesDataset', data_root=f'{demo_root}/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'), pipeline=labelled),
    iters=dict(stage0=600, stage1=150, stage2=150))
eval_targets = dict(cityscapes=stages['target_val'])
max_iters = 1000
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0), 'norm': dict(decay_mult=0.0)}))
param_scheduler = [dict(type='PolyLR', power=1.0, eta_min=0, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
train_dataloader = dict(batch_size=1, num_workers=1, persistent_workers=True,
                        sampler=dict(type='InfiniteSampler', shuffle=True))
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1))
custom_hooks = []
