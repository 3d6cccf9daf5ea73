# CPU demo: DACS towards the Cityscapes-like target (gta2cityscapes_dacs.py) with the demo-size ConvNeXt encoder;
# run with --cfg-options load_from=<checkpoint of gta_source_only_convnext.py>.
_base_ = ['./gta2cityscapes_dacs.py', '../_base_/models/demo_encoders.py']
model = dict(model=dict(backbone={{_base_.convnext_demo}}, decode_head=dict(in_channels={{_base_.convnext_demo_channels}})))
