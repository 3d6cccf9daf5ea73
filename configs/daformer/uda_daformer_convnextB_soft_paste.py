# Named in the user's command list (no such file in the fork): uda_daformer_swinB_soft_paste.py with ConvNeXt-B,
# the 512-channel DAFormer head and AdamW 8e-5. Needs pretrained/convnext_base.pth.
_base_ = ['./uda_daformer_swinB_soft_paste.py']
model = dict(model=dict(
    backbone={{_base_.convnext_b}},
    decode_head=dict(in_channels={{_base_.convnext_b_channels}}, channels=512, decoder_params=dict(embed_dims=512))))
optim_wrapper = dict(optimizer=dict(lr=8e-05))
