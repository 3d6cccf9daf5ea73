# DeepLabV2 R101 with the classifier reduced to the rates 6 and 12 ("dlv2red"): what AdaptSegNet and the UDA
# work built on its code (DACS, ProDA, DAFormer's comparison) actually train, because of an early `return`
# inside AdaptSegNet's loop over the four rates.
_base_ = ['./deeplabv2_r101v1c.py']
model = dict(decode_head=dict(dilations=(6, 12)))
