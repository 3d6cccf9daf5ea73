# CPU demo: MRM on top of the demo DACS (configs/demo/gta2cityscapes_dacs.py): the student's decode head also
# learns the DACS teacher's pseudo-labels of the unmixed target images from features rebuilt by a Rebuilder
# (4x4 tokens of the 4x4 last stage of the 128x128 crops, 40 % masked, 2 blocks of width 128), loss weight 1.
# The Rebuilder trains at the demo's learning rate. Run with --cfg-options load_from=<source-only checkpoint>.
_base_ = ['./gta2cityscapes_dacs.py']
model = dict(components=[
    dict(type='MaskedRepresentationModeling', lambda_mrm=1.0, domain='target',
         rebuilder=dict(embed_dim=128, grid=4, mask_ratio=0.4, depth=2, num_heads=8))])
