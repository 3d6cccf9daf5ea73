# The final DAFormer model on the smallest encoder, MiT-B0 (stage widths 32, 64, 160, 256); the CPU demo uses it.
_base_ = ['./daformer_sepaspp_mitb5.py']
model = dict(
    backbone=dict(arch='b0', pretrained='pretrained/mit_b0.pth'),
    decode_head=dict(in_channels=[32, 64, 160, 256]))
