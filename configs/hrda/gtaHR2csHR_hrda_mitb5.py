# The final HRDA, GTA to Cityscapes: MiT-B5 + DAFormer head inside HRDA (context at half resolution, 512x512
# detail crop, class-wise scale attention, detail loss 0.1), DACS self-training with an EMA teacher (alpha 0.999)
# whose pseudo-labels come from its multi-resolution inference, pseudo-label margins [30, 240, 30, 30],
# rare-class sampling (T 0.01, crop ratio 2.0), ImageNet feature distance on thing classes over the context
# features, AdamW 6e-5 with warm-up and poly decay, 40k iterations, batch 2 + 2 at 1024x1024; tested with
# 1024x1024 windows (stride 512) on the full 2048x1024 images. Seed 1 as in the released config.
# Needs pretrained/mit_b5.pth.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/uda/dacs_a999_fdthings_hrda_mitb5.py',
    '../_base_/datasets/uda_gtaHR_to_cityscapesHR_1024x1024.py',
    '../_base_/datasets/eval_targets_hr.py',
    '../_base_/schedules/adamw_poly10warm_40k.py',
]
randomness = dict(seed=1)
model = dict(model=dict(data_preprocessor=dict(size=(1024, 1024))))
