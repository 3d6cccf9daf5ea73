# UDA pairs GTA -> Cityscapes at 512x512 as uda_gta_to_cityscapes_512x512.py, with the source drawn uniformly
# (no rare-class sampling): the fork's configs without "rare" in their name.
_base_ = ['./uda_gta_to_cityscapes_512x512.py']
train_dataloader = dict(dataset=dict(rare_class_sampling=None))
