# CPU demo: DACS from the GTA-like source to the ACDC-night-like target (see gta2cityscapes_dacs.py).
_base_ = ['./gta2cityscapes_dacs.py']
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='ACDCDataset', data_root='data/demo/acdc', split='train', conditions=('night',),
    data_prefix=dict(img_path='rgb_anon'), pipeline={{_base_.target_pipeline}})))
