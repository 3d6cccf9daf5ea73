# DAFormer ablation: ASPP fusion with plain (not depthwise-separable) dilated 3x3 convs.
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(decode_head=dict(decoder_params=dict(fusion_cfg=dict(sep=False))))
