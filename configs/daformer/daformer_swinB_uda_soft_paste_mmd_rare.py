# daformer_swinB_uda_soft_paste_mmd.py + "rare": rare-class sampling of the source (T 0.01, 3000 pixels,
# crop ratio 0.5), as DAFormer.
_base_ = ['./daformer_swinB_uda_soft_paste_mmd.py']
train_dataloader = dict(dataset=dict(
    rare_class_sampling=dict(_delete_=True, class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
