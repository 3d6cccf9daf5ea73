# Source-only baseline on Synthia (16-class mIoU reported as well as 19-class). See the GTA variant.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb5.py',
    '../_base_/datasets/synthia_to_cityscapes_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
model = dict(data_preprocessor=dict(size=(512, 512)))
