# HRDA, Cityscapes to ACDC (all four conditions): the recipe of gtaHR2csHR_hrda_mitb5.py with Cityscapes
# (2048x1024) as the source and ACDC (1920x1080) as the target, without pseudo-label margins (HRDA applies them
# to Cityscapes-like targets only). Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_cityscapesHR_to_acdcHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1)
model = dict(model=dict(data_preprocessor=dict(size=(1024, 1024))))
