# Model merging, per-target model GTA -> ACDC (ResNet-101): the recipe of gtaHR2acdcHR_hrda_mitb5.py (512x512
# data, 512x512 test windows) with the ResNet-101 V1c encoder, EMA alpha 0.999; seed 1, deterministic.
# Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_r101.py',
    '../_base_/datasets/uda_gtaHR_to_acdcHR_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1, deterministic=True)
model = dict(model=dict(data_preprocessor=dict(size=(512, 512)),
                         test_cfg=dict(crop_size=[512, 512], stride=[512, 512])))
