# UDA pairs for DAFormer at 512x512: Cityscapes -> Dark Zurich night train (unlabelled, 960x540);
# validated on Dark Zurich val.
_base_ = ['./uda_cityscapes_to_acdc_512x512.py']
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
    data_prefix=dict(img_path='rgb_anon/train/night'), pipeline={{_base_.target_train_pipeline}})))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
