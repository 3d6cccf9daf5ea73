# CPU demo: DACS from the GTA-like source to the Dark-Zurich-like target, whose training images are
# unlabelled as in the real set (see gta2cityscapes_dacs.py).
_base_ = ['./gta2cityscapes_dacs.py']
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='CheckedDarkZurichDataset', data_root='data/demo/darkzurich',
    data_prefix=dict(img_path='rgb_anon/train/night'), pipeline={{_base_.target_pipeline}})))
