# The user's fork: daformer_swinB_uda_soft_paste_mmd.py with ConvNeXt-B and the 512-channel DAFormer head,
# AdamW 8e-5 (the fork's adamw_fp16 trained in fp32). Needs pretrained/convnext_base.pth.
_base_ = ['./daformer_swinB_uda_soft_paste_mmd.py']
model = dict(model=dict(
    backbone={{_base_.convnext_b}},
    decode_head=dict(in_channels={{_base_.convnext_b_channels}}, channels=512, decoder_params=dict(embed_dims=512))))
optim_wrapper = dict(optimizer=dict(lr=8e-05))
