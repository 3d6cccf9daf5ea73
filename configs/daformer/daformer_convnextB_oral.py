# The user's fork, "oral" = oracle: ConvNeXt-B + 512-channel DAFormer head trained supervised on Cityscapes train
# (1024x512, 512 crops, flip, photometric distortion), the upper bound for the UDA runs. The fork's poly10 schedule
# and optimizer_config=None are replaced by the DAFormer recipe at 8e-5 (see daformer_convnextB_src.py).
# Needs pretrained/convnext_base.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_convnextB.py',
    '../_base_/datasets/cityscapes_half_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_convnext_poly10warm_40k.py',
]
