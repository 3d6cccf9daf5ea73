# Model merging, per-target model GTA -> IDD (MiT-B5): HRDA with IDD (1920x1080, 1024x1024 crops) as the target,
# pseudo-label margins [30, 240, 30, 30] (IDD is read like Cityscapes), tested with 512x512 windows at stride
# 512; seed 1, deterministic. Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_gtaHR_to_iddHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1, deterministic=True)
model = dict(
    model=dict(data_preprocessor=dict(size=(1024, 1024)), test_cfg=dict(crop_size=[512, 512], stride=[512, 512])))
