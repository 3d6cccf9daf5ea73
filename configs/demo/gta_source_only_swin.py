# CPU demo: the source-only demo model (gta_source_only.py) with a demo-size Swin encoder in place of MiT-B0,
# trained from scratch. make demo-encoders trains it, then DACS from it (gta2cityscapes_dacs_swin.py).
_base_ = ['./gta_source_only.py', '../_base_/models/demo_encoders.py']
model = dict(backbone={{_base_.swin_demo}}, decode_head=dict(in_channels={{_base_.swin_demo_channels}}))
