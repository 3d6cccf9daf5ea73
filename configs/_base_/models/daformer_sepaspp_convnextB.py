# ConvNeXt-B + the fork's 512-channel DAFormer head (sep-ASPP fusion), as a segmentor for supervised runs.
_base_ = ['./daformer_sepaspp_mitb5.py', './fork_encoders.py']
model = dict(
    backbone={{_base_.convnext_b}},
    decode_head=dict(in_channels={{_base_.convnext_b_channels}}, channels=512, decoder_params=dict(embed_dims=512)),
    data_preprocessor=dict(size=(512, 512)))
