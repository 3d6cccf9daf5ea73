# CPU demo: HRDA with DACS self-training from the GTA-like source to the Cityscapes-like target. The DACS demo
# (gta2cityscapes_dacs.py: MiT-B0, 64-channel DAFormer head, 128x128 crops, 400 iterations) with the segmentor
# inside HRDA: the crop at half resolution as context, a random 64x64 detail crop at full resolution, a
# class-wise scale attention, detail loss 0.1; inference with 64x64 detail windows (stride 32) inside 128x128
# fused windows (stride 64), the ratios of the full-size HRDA.
# With --cfg-options load_from=<source-only checkpoint> --load-part model.backbone. the backbone starts from the
# source-only demo model; the HRDA heads (decode_head.head.*, decode_head.scale_attention.*) start fresh.
_base_ = ['./gta2cityscapes_dacs.py']
model = dict(model=dict(
    type='HRDAEncoderDecoder',
    decode_head=dict(
        type='HRDAHead',
        single_scale_head='DAFormerHead',
        attention_classwise=True,
        attention_embed_dim=64,
        hr_loss_weight=0.1),
    scales=[1, 0.5],
    hr_crop_size=[64, 64],
    crop_coord_divisible=8,
    feature_scale=0.5,
    hr_slide_inference=True,
    test_cfg=dict(mode='slide', batched_slide=True, crop_size=[128, 128], stride=[64, 64])))
