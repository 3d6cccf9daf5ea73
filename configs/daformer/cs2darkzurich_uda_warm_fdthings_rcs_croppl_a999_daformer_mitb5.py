# The final DAFormer, Cityscapes to Dark Zurich: MiT-B5 + DAFormer head, DACS self-training with an EMA teacher
# (alpha 0.999), rare-class sampling (T 0.01), ImageNet feature distance on thing classes (lambda 0.005),
# pseudo-label crop, AdamW 6e-5 with 1500-iteration warm-up and poly decay, 40k iterations, batch 2 + 2.
# Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_mitb5.py',
    '../_base_/datasets/uda_cityscapes_to_darkzurich_512x512.py',
    '../_base_/datasets/eval_targets_512.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
model = dict(model=dict(data_preprocessor=dict(size=(512, 512))))
