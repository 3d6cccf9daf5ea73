# The user's fork: ViT-B (BEiT) + Feature2Pyramid neck + UPerNet head + FCN auxiliary head with the full DAFormer
# recipe (DACS alpha 0.999, rare-class sampling, ImageNet feature distance on the last neck level, pseudo-label
# crop), GTA -> Cityscapes, 40k iterations, layer-wise learning-rate decay. Needs
# pretrained/beit_base.pth (BEiT pre-training file, official or mmseg layout).
_base_ = ['../_base_/fork_daformer_gta2cs_512.py', '../_base_/schedules/adamw_vit_layerdecay_poly10warm_40k.py']
model = dict(model=dict(backbone={{_base_.beit_b}}, neck={{_base_.vit_neck}},
                        decode_head={{_base_.uper_vit_head}}, auxiliary_head={{_base_.uper_vit_aux}}))
