# Model merging, per-target model GTA -> IDD (ResNet-101): the recipe of gtaHR2iddHR_hrda_mitb5.py with the
# ResNet-101 V1c encoder and EMA alpha 0 (the teacher is the current student), as in the model-merging work's
# config; seed 1, deterministic. Needs pretrained/resnet101_v1c-e67eebb6.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_r101.py',
    '../_base_/datasets/uda_gtaHR_to_iddHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1, deterministic=True)
model = dict(
    alpha=0.0,
    model=dict(data_preprocessor=dict(size=(1024, 1024)), test_cfg=dict(crop_size=[512, 512], stride=[512, 512])))
