# Source-only baseline: DAFormer (MiT-B5 + sep-ASPP head) trained on GTA alone, 40k iterations with the
# DAFormer optimiser recipe; validated on Cityscapes, and test.sh evaluates it on every target.
# Needs pretrained/mit_b5.pth (ImageNet MiT-B5, original or HuggingFace layout).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/models/daformer_sepaspp_mitb5.py',
    '../_base_/datasets/gta_to_cityscapes_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
model = dict(data_preprocessor=dict(size=(512, 512)))
