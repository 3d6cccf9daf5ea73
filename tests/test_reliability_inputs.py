"""One line for every bad input, nothing accepted silently: config typos (top level and inside registry dicts),
a label whose size differs from its image, label values a converter has no mapping for; and the SYNTHIA map
value by value against DAFormer's."""
import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS
from PIL import Image

from daseg.cli import load_config, run_main
from daseg.errors import UserError
from daseg.label_maps import SYNTHIA_ID_TO_TRAINID
from entry_points import ROOT, load_script, run_experiments

gta = load_script('tools/convert_datasets/gta')  # the converter's command line

DACS = ROOT / 'configs/demo/gta2cityscapes_dacs.py'


def config_with(tmp_path, text, base=DACS):
    path = tmp_path / 'typo.py'
    path.write_text(f"_base_ = ['{base}']\n{text}\n")
    return str(path)


@pytest.mark.parametrize('text, message', [
    ("randomnes = dict(seed=1)", "unknown top-level config key 'randomnes'; the nearest valid name is 'randomness'"),
    ("optim_wraper = dict(type='OptimWrapper')",
     "unknown top-level config key 'optim_wraper'; the nearest valid name is 'optim_wrapper'"),
    ("train_cfg = dict(max_iter=10)",
     "unknown config key 'max_iter' in train_cfg (IterBasedTrainLoop); the nearest valid name is 'max_iters'"),
    ("model = dict(model=dict(decode_head=dict(num_clases=16)))",
     "unknown config key 'num_clases' in model.model.decode_head (DAFormerHead); the nearest valid name is "
     "'num_classes'"),
    ("model = dict(alpa=0.99)", "unknown config key 'alpa' in model (DACS); the nearest valid name is 'alpha'"),
    ("model = dict(components=[dict(type='MaskedConsistency', mask_mod='separate')])",
     "unknown config key 'mask_mod' in model.components[0] (MaskedConsistency); the nearest valid name is "
     "'mask_mode'"),
    ("randomness = dict(sed=1)", "unknown config key 'sed' in randomness; the nearest valid name is 'seed'"),
    ("train_dataloader = dict(dataset=dict(source=dict(pipeline=[dict(type='RandomFlip', prob=0.5, "
     "directon='vertical')])))",
     "unknown config key 'directon' in train_dataloader.dataset.source.pipeline[0] (RandomFlip); the nearest valid "
     "name is 'direction'"),
])
def test_config_typos_are_refused_with_place_and_nearest_name(tmp_path, text, message):
    with pytest.raises(UserError) as exc:
        load_config(config_with(tmp_path, text))
    assert str(exc.value) == message


def test_config_typo_ends_the_training_command_with_one_line(tmp_path, capsys):
    config = config_with(tmp_path, 'train_cfg = dict(max_iter=10)')
    with pytest.raises(SystemExit) as exc:
        run_main(lambda: run_experiments.main(['--config', config, '--work-dir', str(tmp_path / 'work')]))
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: unknown config key 'max_iter' in train_cfg (IterBasedTrainLoop); the nearest valid name is "
        "'max_iters'"]
    assert not (tmp_path / 'work').exists()


def test_helper_variables_of_a_config_are_accepted(tmp_path):
    cfg = load_config(config_with(tmp_path, 'my_crop = (64, 64)\nwarmup = 3'))
    assert cfg.my_crop == (64, 64)


def test_label_of_another_size_than_its_image_names_both_files(tmp_path):
    init_default_scope('mmseg')
    img, label = tmp_path / 'a.png', tmp_path / 'a_labelTrainIds.png'
    cv2.imwrite(str(img), np.zeros((6, 8, 3), np.uint8))
    Image.fromarray(np.zeros((5, 8), np.uint8), 'L').save(label)
    results = TRANSFORMS.build(dict(type='LoadImageChecked'))(
        dict(img_path=str(img), seg_map_path=str(label), reduce_zero_label=False, seg_fields=[]))
    with pytest.raises(UserError) as exc:
        TRANSFORMS.build(dict(type='LoadAnnotationsChecked'))(results)
    assert str(exc.value) == f"label '{label}' is 8x5 pixels, its image '{img}' 8x6; expected equal sizes"


def write_gta_label(root, name, values):
    (root / 'labels').mkdir(parents=True, exist_ok=True)
    label = Image.fromarray(np.asarray(values, np.uint8), 'L')
    label.putpalette([v for i in range(256) for v in (i, i, i)])
    label.save(root / 'labels' / name)


def test_unmapped_label_values_are_reported_and_strict_refuses_them(tmp_path, capsys):
    write_gta_label(tmp_path, '00001.png', [[7, 7, 0, 33]])  # void (0) is a known id: not reported
    write_gta_label(tmp_path, '00002.png', [[200, 200, 7, 34]])
    write_gta_label(tmp_path, '00003.png', [[200, 8, 8, 8]])
    assert gta.main([str(tmp_path), '--nproc', '1']) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith('warning')]
    assert out == [f"warning: 4 pixels in 2 labels hold values without a trainId mapping and became 255 (ignored): "
                   f"34 (1 px), 200 (3 px); first in '{tmp_path}/labels/00002.png'; --strict stops instead"]
    assert np.asarray(Image.open(tmp_path / 'labels/00002_labelTrainIds.png')).tolist() == [[255, 255, 0, 255]]
    assert gta.main([str(tmp_path), '--nproc', '1', '--strict']) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: label '{tmp_path}/labels/00002.png' holds values without a trainId mapping: 34 (1 px), 200 (2 px); "
        'expected ids 0..33 (--strict)']


# DAFormer's tools/convert_datasets/synthia.py (reference/ORIGINALS.md, section 1.4): all 19 pairs.
ORIGINAL_SYNTHIA = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 16: 9, 1: 10, 10: 11, 17: 12, 8: 13,
                    18: 14, 19: 15, 20: 16, 12: 17, 11: 18}


def test_synthia_map_is_the_original_value_by_value():
    assert len(SYNTHIA_ID_TO_TRAINID) == 19
    for synthia_id, train_id in ORIGINAL_SYNTHIA.items():
        assert SYNTHIA_ID_TO_TRAINID[synthia_id] == train_id, synthia_id
    assert sorted(SYNTHIA_ID_TO_TRAINID.values()) == list(range(19))
