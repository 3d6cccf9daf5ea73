# Model merging, per-target model GTA -> Dark Zurich (MiT-B5): HRDA on 1024x1024 crops of Dark Zurich night
# (1920x1080), tested with 1024x1024 windows at stride 512; no pseudo-label margins (not applied to Dark
# Zurich); seed 1, deterministic. Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_gtaHR_to_darkzurichHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1, deterministic=True)
model = dict(model=dict(data_preprocessor=dict(size=(1024, 1024))))
