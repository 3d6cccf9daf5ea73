# The original DeepLab-v2 ResNet-101 of AdaptSegNet's deeplab.py, as union-set model adaptation trains it, as
# variables for a config to compose (no `model` here), e.g.
#   model = dict(backbone={{_base_.deeplab_r101}}, decode_head={{_base_.dlv2red_head}})
# Backbone: 7x7 stem, max pool rounding up, "caffe" bottlenecks (stride on the first 1x1 conv), layer3/layer4 at
# dilation 2/4 in every block, output stride 8, BN trained (affine and statistics). The head reads the last of the
# four maps (out_indices 0-3, in_index 3): the original classifier sums its convs at rates 6 and 12 only (an early
# `return` in its loop; the 18/24 convs of its checkpoints are dropped when they are converted).
# pretrained/DeepLab_init.pth is AdaptSegNet's initial weights (DeepLab-v2 ResNet-101 trained on MS-COCO, keys under
# `Scale.`), the file union-set starts every source model from; its 21-class layer5 is not loaded. Union-set's
# per-source models ({source}_{iter}.pth) load through load_from / test.sh (converted by daseg.weights).
# No `_delete_` (it would stay in the dict where no base model is merged into); every argument that the
# ResNet-V1c / DLV2 bases set is stated, so merging into those bases gives the same model.
deeplab_r101 = dict(
    type='DeepLabResNet',
    depth=101,
    strides=(1, 2, 1, 1),
    dilations=(1, 1, 2, 4),
    style='caffe',
    contract_dilation=False,
    out_indices=(0, 1, 2, 3),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    pretrained='pretrained/DeepLab_init.pth')
dlv2red_head = dict(
    type='DLV2Head',
    in_channels=2048,
    in_index=3,
    dilations=(6, 12),
    num_classes=19,
    align_corners=True,
    loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
