# Union-set adaptation's data (ORIGINALS_2.md 5.2): full images, no crop and no flip. Sources: GTA5 resized to
# 1280x720, Synscapes to 1024x512, SYNTHIA at its native 1280x760; target Cityscapes train at 1024x512 (the
# pseudo-labels are written at that size), evaluated on the full 2048x1024 val labels (the predictions are
# upsampled to the label size). Sources carry 19-class trainIds; each source model maps them to its own label set.
load_labelled = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked')]
unionset_sources = dict(
    gta=dict(type='GTADataset', data_root='data/gta', pipeline=load_labelled + [
        dict(type='Resize', scale=(1280, 720), keep_ratio=False), dict(type='PackSegInputs')]),
    synscapes=dict(type='SynscapesDataset', data_root='data/synscapes', pipeline=load_labelled + [
        dict(type='Resize', scale=(1024, 512), keep_ratio=False), dict(type='PackSegInputs')]),
    synthia=dict(type='SynthiaDataset', data_root='data/synthia', pipeline=load_labelled + [
        dict(type='PackSegInputs')]),
)
cityscapes_train_images = dict(
    type='CheckedCityscapesDataset', data_root='data/cityscapes', data_prefix=dict(img_path='leftImg8bit/train'),
    pipeline=[dict(type='LoadImageChecked'), dict(type='Resize', scale=(1024, 512), keep_ratio=False),
              dict(type='PackSegInputs')])
# Stages 1 and 2: the same images with their pseudo-labels (already at 1024x512).
pseudo_label_pipeline = load_labelled + [dict(type='Resize', scale=(1024, 512), keep_ratio=False),
                                         dict(type='PackSegInputs')]
cityscapes_val = dict(
    type='CheckedCityscapesDataset', data_root='data/cityscapes',
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    pipeline=[dict(type='LoadImageChecked'), dict(type='Resize', scale=(1024, 512), keep_ratio=False),
              dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')])
eval_targets = dict(cityscapes=cityscapes_val)
