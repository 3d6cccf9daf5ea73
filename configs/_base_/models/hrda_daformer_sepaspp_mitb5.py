# HRDA: MiT-B5 + DAFormer head (sep-ASPP) inside HRDA's multi-resolution encoder-decoder. Training sees the
# image at half resolution (context) and a random 512x512 crop of it at full resolution (detail, corner on a
# multiple of 8); one DAFormer head predicts both, a second one (1x1-conv fusion) a scale attention per class
# that fuses them; the detail crop's own loss is weighted 0.1. Inference: the detail branch by overlapping
# 512x512 windows (stride 256), the fused prediction by 1024x1024 windows with stride 512, each batched.
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        type='HRDAHead',
        single_scale_head='DAFormerHead',
        attention_classwise=True,
        attention_embed_dim=256,
        hr_loss_weight=0.1),
    scales=[1, 0.5],
    hr_crop_size=[512, 512],
    crop_coord_divisible=8,
    # The feature distance compares the context (half-resolution) features, as in the final HRDA.
    feature_scale=0.5,
    hr_slide_inference=True,
    test_cfg=dict(mode='slide', batched_slide=True, crop_size=[1024, 1024], stride=[512, 512]))
