# CPU demo: DACS from the GTA-like source to the IDD-like target (see gta2cityscapes_dacs.py).
_base_ = ['./gta2cityscapes_dacs.py']
train_dataloader = dict(dataset=dict(target=dict(
    _delete_=True, type='IDDDataset', data_root='data/demo/idd', data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline={{_base_.target_pipeline}})))
