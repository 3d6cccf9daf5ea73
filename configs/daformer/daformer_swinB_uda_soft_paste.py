# daformer_swinB_uda_soft.py + "paste": per iteration the pixels of 2 classes drawn from rider, bus, train,
# motorcycle, bicycle pasted onto the mixed images from source crops that contain them (label, weight 1). The
# fork's paste pasted one class, Caffe-normalised, with a wrong weight map, and its schedule file
# (poly10_warm.py) did not exist: the DAFormer recipe here, as in its sibling configs.
_base_ = ['./daformer_swinB_uda_soft.py']
model = dict(mixed_transforms=[dict(type='RareClassPaste')])
train_dataloader = dict(dataset=dict(paste=dict()))
