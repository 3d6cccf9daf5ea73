# UDA pairs for HRDA at 1024x1024: Cityscapes -> Dark Zurich night train (unlabelled, 1920x1080); validated
# on Dark Zurich val at 1920x1080.
_base_ = ['./uda_cityscapesHR_to_acdcHR_1024x1024.py']
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
    data_prefix=dict(img_path='rgb_anon/train/night'), pipeline={{_base_.target_train_pipeline}})))
val_dataloader = dict(dataset=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
