# The encoders of the user's DAFormer fork (ORIGINALS_2 section 1.4) and the heads they pair with, as variables
# that an experiment puts in place of the MiT-B5 + DAFormer head of its base, e.g.
#   model = dict(model=dict(backbone={{_base_.swin_b}}, decode_head=dict(in_channels={{_base_.swin_b_channels}})))
# (model.model in a UDA config). ImageNet weights in pretrained/, in any release layout (official, mmcls/mmpretrain,
# mmseg); tools/convert_backbone_weights.py converts them once if wanted. See the README's encoder table.
swin_common = dict(pretrain_img_size=224, patch_size=4, window_size=7, mlp_ratio=4, strides=(4, 2, 2, 2),
                   out_indices=(0, 1, 2, 3), qkv_bias=True, qk_scale=None, patch_norm=True, drop_rate=0.0,
                   attn_drop_rate=0.0, use_abs_pos_embed=False, act_cfg=dict(type='GELU'),
                   norm_cfg=dict(type='LN', requires_grad=True))
swin_s = dict(_delete_=True, type='CheckedSwinTransformer', embed_dims=96, depths=(2, 2, 18, 2),
              num_heads=(3, 6, 12, 24), drop_path_rate=0.2, pretrained='pretrained/swin_small.pth', **swin_common)
swin_b = dict(_delete_=True, type='CheckedSwinTransformer', embed_dims=128, depths=(2, 2, 18, 2),
              num_heads=(4, 8, 16, 32), drop_path_rate=0.3, pretrained='pretrained/swin_base.pth', **swin_common)
# Swin-L pre-trained at 224 (window 7); the fork's file had the placeholder 'pretrained/xxxxxx'.
swin_l224 = dict(_delete_=True, type='CheckedSwinTransformer', embed_dims=192, depths=(2, 2, 18, 2),
                 num_heads=(6, 12, 24, 48), drop_path_rate=0.2, pretrained='pretrained/swin_large.pth',
                 **swin_common)
swin_s_channels = [96, 192, 384, 768]
swin_b_channels = [128, 256, 512, 1024]
swin_l_channels = [192, 384, 768, 1536]
# ConvNeXt as mmcls configured it for the fork (layer scale 1.0, per-stage output norms); the mmcls files load
# with or without their 'backbone.' prefix, the official ones too. ConvNeXt-L's file is the ImageNet-21k one.
convnext_s = dict(_delete_=True, type='ConvNeXt', arch='small', drop_path_rate=0.3, layer_scale_init_value=1.0,
                  gap_before_final_norm=False, pretrained='pretrained/convnext_small.pth')
convnext_b = dict(_delete_=True, type='ConvNeXt', arch='base', drop_path_rate=0.4, layer_scale_init_value=1.0,
                  gap_before_final_norm=False, pretrained='pretrained/convnext_base.pth')
convnext_l = dict(_delete_=True, type='ConvNeXt', arch='large', drop_path_rate=0.4, layer_scale_init_value=1.0,
                  gap_before_final_norm=False, pretrained='pretrained/convnext_large.pth')
convnext_s_channels = [96, 192, 384, 768]
convnext_b_channels = [128, 256, 512, 1024]
convnext_l_channels = [192, 384, 768, 1536]
# (The fork's DAFormer head for ConvNeXt has 512 channels and embeddings: decode_head channels=512,
# decoder_params=dict(embed_dims=512).)
# ViT-B/16 at 512 for BEiT and MAE: blocks 4, 6, 8 and 12 feed mmseg's Feature2Pyramid (strides 4, 8, 16, 32).
# The fork's BEiT had no pretrained weights (random encoder and a random "ImageNet" model for the feature
# distance); here it takes the BEiT file. MAE: the official pre-training file (full qkv bias, no layer scale).
vit_common = dict(img_size=(512, 512), patch_size=16, in_channels=3, embed_dims=768, num_layers=12, num_heads=12,
                  mlp_ratio=4, out_indices=(3, 5, 7, 11), attn_drop_rate=0.0, drop_path_rate=0.1,
                  norm_cfg=dict(type='LN', eps=1e-6), act_cfg=dict(type='GELU'), norm_eval=False, init_values=0.1)
beit_b = dict(_delete_=True, type='CheckedBEiT', qv_bias=True, pretrained='pretrained/beit_base.pth',
              **vit_common)
mae_b = dict(_delete_=True, type='CheckedMAE', pretrained='pretrained/mae_base.pth', **vit_common)
vit_neck = dict(type='Feature2Pyramid', embed_dim=768, rescales=[4, 2, 1, 0.5],
                norm_cfg=dict(type='BN', requires_grad=True))
vit_channels = [768, 768, 768, 768]


# UPerHead over the four maps and an FCN auxiliary head on the third (loss 0.4), as the fork's models: Swin-B with
# 512 channels; the ViTs with the 768 channels their neck gives (the fork's MAE model declared 384 and could not
# run).
uper_norm = dict(type='BN', requires_grad=True)
uper_swin_b_head = dict(_delete_=True, type='UPerLabelHead', in_channels=swin_b_channels, in_index=[0, 1, 2, 3],
                        pool_scales=(1, 2, 3, 6), channels=512, dropout_ratio=0.1, num_classes=19,
                        norm_cfg=uper_norm, align_corners=False,
                        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
uper_vit_head = dict(uper_swin_b_head, in_channels=vit_channels, channels=768)
uper_swin_b_aux = dict(type='FCNLabelHead', in_channels=swin_b_channels[2], in_index=2, channels=256, num_convs=1,
                       concat_input=False, dropout_ratio=0.1, num_classes=19, norm_cfg=uper_norm,
                       align_corners=False,
                       loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4))
uper_vit_aux = dict(uper_swin_b_aux, in_channels=vit_channels[2])
