# The final HRDA, Synthia to Cityscapes: the recipe of gtaHR2csHR_hrda_mitb5.py with Synthia (2560x1520) as the
# source; test.sh also reports the mIoU over Synthia's 16 classes. Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_synthiaHR_to_cityscapesHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1)
model = dict(model=dict(data_preprocessor=dict(size=(1024, 1024))))
