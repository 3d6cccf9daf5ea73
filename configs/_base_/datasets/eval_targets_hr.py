# Target validation sets for test.sh (--targets picks among these names), at the full resolution that the
# HRDA models (1024x1024 crops) are trained and tested at.
_cs_size = (2048, 1024)
_wide_size = (1920, 1080)  # IDD, ACDC and Dark Zurich


def _test_pipeline(scale):
    return [
        dict(type='LoadImageChecked'),
        dict(type='Resize', scale=scale, keep_ratio=True),
        dict(type='LoadAnnotationsChecked'),
        dict(type='PackSegInputs'),
    ]


def _acdc(conditions):
    return dict(type='ACDCDataset', data_root='data/acdc', split='val', conditions=conditions,
                pipeline=_test_pipeline(_wide_size))


eval_targets = dict(
    cityscapes=dict(type='CheckedCityscapesDataset', data_root='data/cityscapes',
                    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                    pipeline=_test_pipeline(_cs_size)),
    idd=dict(type='IDDDataset', data_root='data/idd',
             data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
             pipeline=_test_pipeline(_wide_size)),
    acdc=_acdc(('fog', 'night', 'rain', 'snow')),
    acdc_fog=_acdc(('fog',)),
    acdc_night=_acdc(('night',)),
    acdc_rain=_acdc(('rain',)),
    acdc_snow=_acdc(('snow',)),
    darkzurich=dict(type='CheckedDarkZurichDataset', data_root='data/dark_zurich',
                    data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night'),
                    pipeline=_test_pipeline(_wide_size)),
)
