# CPU demo of DDB (make demo-ddb): a shortened round 1 on the demo domains, GTA-like + Synscapes-like (multi-
# source) -> Cityscapes-like. Two self-training teachers from the source-only model (gta_synscapes_source_only.py, passed as
# stages.init), one per bridged path (CutMix region path, ClassMix class path), 200 iterations each, their
# prototypes (2 epochs over the target's training images, DDB 4), and the cross-path distillation student (again from
# the source-only model) for 200 iterations. DDB's settings otherwise (EMA 0.99, threshold 0.968, jitter and blur
# after bridging, prototype-rectified labels of weight 1), at the demo's segmentor, crop, batch and rate. The
# DDB prototypes are computed on the DAFormer head's fused features (64 channels), as DDB's on its adapter head's.
_base_ = ['./gta_source_only.py']
crop_size = (128, 128)


def _source(pmd):
    return [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'),
            dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75), dict(type='RandomFlip', prob=0.5)] + (
        [dict(type='PhotoMetricDistortion')] if pmd else []) + [dict(type='PackSegInputs')]


_target = [dict(type='LoadImageChecked'), dict(type='RandomCrop', crop_size=crop_size),
           dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]


def _sources(pipeline):
    return [dict(type='GTADataset', data_root='data/demo/gta', ann_file='train.txt', pipeline=pipeline),
            dict(type='SynscapesDataset', data_root='data/demo/synscapes', ann_file='train.txt', pipeline=pipeline)]


_cityscapes = dict(type='CheckedCityscapesDataset', data_root='data/demo/cityscapes',
                   data_prefix=dict(img_path='leftImg8bit/train'), pipeline=_target)
stages = dict(
    type='DDBStages',
    rounds=1,
    teacher_data=dict(type='UDADataset', source=_sources(_source(False)), target=_cityscapes),
    student_data=dict(type='UDADataset', source=_sources(_source(True)), target=_cityscapes),
    prototype_data=[_cityscapes],
    teacher=dict(alpha=0.99, pseudo_threshold=0.968),
    mixing=dict(color_jitter_strength=0.2, color_jitter_probability=0.2, blur=True),
    student=dict(proto_rectify=True, renormalise=False, soft_distill=False),
    prototypes=dict(epochs=2, min_pixels=10, cap=3000, batch_size=8, workers=1),
    iters=dict(teacher=200, student=200),
    # make demo-ddb sets the source-only model here (--cfg-options stages.init=...).
    init=None)
max_iters = 200
param_scheduler = [dict(type='PolyWarmupLR', max_iters=max_iters, warmup_iters=20, end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
train_dataloader = dict(sampler=dict(_delete_=True, type='PositionSampler'),
                        dataset=dict(_delete_=True, type='UDADataset', source=_sources(_source(False)),
                                     target=_cityscapes))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=1))
custom_hooks = [dict(type='TrainingCurveHook', interval=100)]
# The pipeline's last stage evaluates every teacher and student on the target.
eval_targets = dict(_delete_=True, cityscapes={{_base_.eval_targets.cityscapes}})
