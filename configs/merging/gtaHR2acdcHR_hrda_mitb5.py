# Model merging, per-target model GTA -> ACDC (MiT-B5): HRDA on the 512x512 GTA -> ACDC data (ACDC at 960x540,
# so the 512x512 detail crop is the whole training crop), tested with 512x512 windows at stride 512; no
# pseudo-label margins (not applied to ACDC); seed 1, deterministic. Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_gtaHR_to_acdcHR_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1, deterministic=True)
model = dict(model=dict(data_preprocessor=dict(size=(512, 512)),
                         test_cfg=dict(crop_size=[512, 512], stride=[512, 512])))
