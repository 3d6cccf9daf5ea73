# HRDA, Cityscapes to Dark Zurich (night): the recipe of csHR2acdcHR_hrda_mitb5.py with the Dark Zurich night
# images (1920x1080) as the target. Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_cityscapesHR_to_darkzurichHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1)
model = dict(model=dict(data_preprocessor=dict(size=(1024, 1024))))
