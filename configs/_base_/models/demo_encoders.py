# Demo-size Swin and ConvNeXt encoders (the fork's architectures at the width of MiT-B0, a few blocks), trained
# from scratch on the CPU demo data. A 128x128 crop gives 32x32 tokens at stride 4: Swin's window 4 tiles every
# stage (32, 16, 8, 4 tokens a side).
swin_demo = dict(_delete_=True, type='CheckedSwinTransformer', pretrain_img_size=128, embed_dims=32,
                 depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8), window_size=4, drop_path_rate=0.1, pretrained=None)
convnext_demo = dict(_delete_=True, type='ConvNeXt', arch=dict(depths=[1, 1, 3, 1], channels=[32, 64, 128, 256]),
                     drop_path_rate=0.1, layer_scale_init_value=1.0, gap_before_final_norm=False, pretrained=None)
swin_demo_channels = [32, 64, 128, 256]
convnext_demo_channels = [32, 64, 128, 256]
