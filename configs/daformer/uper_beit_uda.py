# The user's fork: ViT-B (BEiT) + Feature2Pyramid neck + UPerNet head + FCN auxiliary head, plain DACS (EMA teacher
# alpha 0.99, no feature distance, no rare-class sampling, no pseudo-label crop), GTA -> Cityscapes, 40k
# iterations. The fork's poly10 schedule (min_lr 1e-4 above the base rate) is replaced by the DAFormer recipe,
# with layer-wise learning-rate decay. Needs pretrained/beit_base.pth (BEiT pre-training file, official or
# mmseg layout).
_base_ = ['../_base_/fork_dacs_gta2cs_512.py', '../_base_/schedules/adamw_vit_layerdecay_poly10warm_40k.py']
model = dict(
    alpha=0.99,
    model=dict(backbone={{_base_.beit_b}}, neck={{_base_.vit_neck}}, decode_head={{_base_.uper_vit_head}},
               auxiliary_head={{_base_.uper_vit_aux}}))
