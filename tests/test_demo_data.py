"""The synthetic demo generator writes each real dataset's own layout and label encoding, deterministically."""
import filecmp
import importlib.util
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from daseg.datasets.convert.mapillary import convert_mapillary
from daseg.datasets.convert.mapillary_rules import mapillary_rule
from daseg.datasets.convert.synscapes import convert_synscapes
from daseg.demo import DOMAINS, generate, select_domains
from daseg.demo.domains import DOMAINS_BY_NAME
from daseg.demo.generate import domain_size, sample_rng
from daseg.demo.labels import PARKING, TRAINID_LUT
from daseg.demo.mapillary_labels import CONFIG, mapillary_indices
from daseg.demo.scene import draw_scene
from daseg.demo.writers import mapillary_key
from daseg.errors import UserError
from daseg.label_maps import to_lut

SIZE = (64, 36)
SCALE = 0.02  # gta: 350 * 0.02 = 7 train, 50 * 0.02 = 1 val
EVAL_LABEL_IDS = {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}
SYNTHIA_IDS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 17, 19, 21}  # void + Synthia's 16 classes
SYNTHIA_THINGS = {8, 10, 11, 12, 17, 19}  # car, pedestrian, bicycle, motorcycle, rider, bus
TRAIN_IDS = set(range(19)) | {255}


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo') / 'set'
    generate(str(out), seed=0, scale=SCALE, size=SIZE, nproc=2)
    return out


def _ids(path):
    return np.asarray(Image.open(path))


def _files(root):
    return sorted(p.relative_to(root) for p in Path(root).rglob('*') if p.is_file())


def test_gta_palette_labels_and_split_lists(demo):
    image = Image.open(demo / 'gta/images/00000.png')
    assert (image.mode, image.size) == ('RGB', SIZE)
    label = Image.open(demo / 'gta/labels/00000.png')
    assert label.mode == 'P'
    assert label.getpalette()[7 * 3:8 * 3] == [128, 64, 128]  # labelId 7 (road) has the Cityscapes road colour
    ids = set()
    for stem in range(8):
        ids |= set(np.unique(_ids(demo / f'gta/labels/{stem:05d}.png')).tolist())
    assert ids <= set(range(34))
    assert {7, 23, 26} <= ids  # road, sky, car
    assert (demo / 'gta/train.txt').read_text().split() == [f'{i:05d}' for i in range(7)]
    assert (demo / 'gta/val.txt').read_text().split() == ['00007']


def test_synthia_16bit_labels_need_cv2(demo):
    path = str(demo / 'synthia/GT/LABELS/0000000.png')
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (SIZE[1], SIZE[0], 3)
    assert not raw[..., 0].any()  # channel B is 0
    classes, instances = raw[..., -1], raw[..., 1]
    assert set(np.unique(classes).tolist()) <= SYNTHIA_IDS
    assert 3 in classes  # road
    assert set(np.unique(classes[instances > 0]).tolist()) <= SYNTHIA_THINGS
    assert not np.array_equal(np.asarray(Image.open(path))[..., 0], classes)  # PIL truncates 16-bit RGB
    assert (demo / 'synthia/RGB/0000000.png').exists()
    assert len((demo / 'synthia/train.txt').read_text().split()) == 5  # round(260 * 0.02)


def test_cityscapes_label_ids_include_void_ids(demo):
    stem = 'aachen_000000_000019'
    assert Image.open(demo / f'cityscapes/leftImg8bit/train/aachen/{stem}_leftImg8bit.png').mode == 'RGB'
    ids = _ids(demo / f'cityscapes/gtFine/train/aachen/{stem}_gtFine_labelIds.png')
    assert ids.dtype == np.uint8 and ids.shape == SIZE[::-1]
    assert {1, 3} <= set(np.unique(ids).tolist())  # ego vehicle, out-of-roi border
    assert ids[0, 0] == 3 and ids[-2, SIZE[0] // 2] == 1
    colour = _ids(demo / f'cityscapes/gtFine/train/aachen/{stem}_gtFine_color.png')
    assert colour[ids == 7][0].tolist() == [128, 64, 128]
    # val image number 6 (after 6 train images): city 6 % 2 -> frankfurt, sequence 6 // 2
    assert (demo / 'cityscapes/leftImg8bit/val/frankfurt/frankfurt_000003_000019_leftImg8bit.png').exists()


def test_idd_jpeg_images_and_cs_train_ids(demo):
    image = Image.open(demo / 'idd_raw/leftImg8bit/train/0/000000_leftImg8bit.jpg')
    assert image.format == 'JPEG'
    ids = _ids(demo / 'idd_raw/gtFine/train/0/000000_gtFine_labelcsTrainIds.png')
    assert set(np.unique(ids).tolist()) <= TRAIN_IDS


@pytest.mark.parametrize('cond', ['fog', 'night'])
def test_acdc_train_ids_agree_with_label_ids(demo, cond):
    stem = 'GOPR0475/GOPR0475_frame_000001'
    assert (demo / f'acdc/rgb_anon/{cond}/train/{stem}_rgb_anon.png').exists()
    train_ids = _ids(demo / f'acdc/gt/{cond}/train/{stem}_gt_labelTrainIds.png')
    label_ids = _ids(demo / f'acdc/gt/{cond}/train/{stem}_gt_labelIds.png')
    assert set(np.unique(train_ids).tolist()) <= TRAIN_IDS
    for label_id, train_id in ((7, 0), (11, 2), (23, 10), (26, 13), (0, 255), (4, 255)):
        assert (train_ids[label_ids == label_id] == train_id).all()


def test_dark_zurich_train_is_unlabelled(demo):
    assert (demo / 'darkzurich/rgb_anon/train/night/GOPR0348/GOPR0348_frame_000001_rgb_anon.png').exists()
    assert not (demo / 'darkzurich/gt/train').exists()
    stem = 'GOPR0356/GOPR0356_frame_000041'  # the first val image is image number 4
    assert (demo / f'darkzurich/rgb_anon/val/night/{stem}_rgb_anon.png').exists()
    train_ids = _ids(demo / f'darkzurich/gt/val/night/{stem}_gt_labelTrainIds.png')
    assert set(np.unique(train_ids).tolist()) <= TRAIN_IDS
    assert (demo / f'darkzurich/gt/val/night/{stem}_gt_labelIds.png').exists()


def test_synscapes_label_ids_meta_and_split_lists(demo):
    image = Image.open(demo / 'synscapes/img/rgb/1.png')  # numbered from 1, like the release
    assert (image.mode, image.size) == ('RGB', SIZE)
    label = Image.open(demo / 'synscapes/img/class/1.png')
    assert label.mode == 'L'
    ids = set()
    for n in range(1, 6):
        ids |= set(np.unique(_ids(demo / f'synscapes/img/class/{n}.png')).tolist())
    assert ids <= set(range(34)) and {7, 23, 26} <= ids  # Cityscapes labelIds: road, sky, car
    meta = json.loads((demo / 'synscapes/meta/1.json').read_text())
    assert meta['camera']['intrinsic']['resx'] == SIZE[0] and meta['camera']['extrinsic']['z'] > 1
    assert (demo / 'synscapes/train.txt').read_text().split() == ['1', '2', '3', '4']  # round(200 * 0.02)
    assert (demo / 'synscapes/val.txt').read_text().split() == ['5']


def test_mapillary_release_layout_and_label_indices(demo):
    config = json.loads((demo / 'mapillary/config_v1.2.json').read_text())
    assert config == CONFIG and {'name', 'readable', 'color'} <= set(config['labels'][0])
    train = sorted(p.stem for p in (demo / 'mapillary/training/images').iterdir())
    assert train == sorted(mapillary_key(n) for n in range(4)) and all(len(k) == 22 for k in train)
    assert [p.stem for p in (demo / 'mapillary/validation/images').iterdir()] == [mapillary_key(4)]
    key = mapillary_key(0)
    image = Image.open(demo / f'mapillary/training/images/{key}.jpg')
    assert (image.format, image.size) == ('JPEG', SIZE)
    label = Image.open(demo / f'mapillary/training/labels/{key}.png')
    assert label.mode == 'P'  # palette indices, as in the release
    values = np.unique(np.asarray(label)).tolist()
    assert max(values) < len(config['labels'])
    palette = label.getpalette()
    for v in values:  # the palette colour of an index is its config colour
        assert palette[3 * v:3 * v + 3] == config['labels'][v]['color']
    assert not (demo / 'mapillary/train.txt').exists()  # its splits are folders


def _scene(name, number, size=SIZE):
    return draw_scene(DOMAINS_BY_NAME[name].layout, size[0], size[1], sample_rng(0, name, number))


def test_mapillary_labels_keep_the_cityscapes_classes_but_parking():
    """On full-size scenes: the Mapillary labels the writer chooses, mapped by the converter's name rules, are the
    scene's Cityscapes trainIds, except parking, which Mapillary's rules count as road."""
    lut = np.array([mapillary_rule(label['readable'])[0] for label in CONFIG['labels']], np.uint8)
    used = set()
    for number in range(6):
        scene = _scene('mapillary', number, DOMAINS_BY_NAME['mapillary'].size)
        indices = mapillary_indices(scene)
        expected = TRAINID_LUT[scene.ids]
        expected[scene.ids == PARKING] = 0
        np.testing.assert_array_equal(lut[indices], expected)
        used |= {CONFIG['labels'][i]['readable'] for i in np.unique(indices)}
    assert {'Road', 'Lane Marking - General', 'Curb', 'Sidewalk', 'Parking', 'Pole', 'Utility Pole', 'Street Light',
            'Traffic Sign (Front)', 'Traffic Sign (Back)', 'Car', 'Ego Vehicle'} <= used


def test_converted_demo_labels_match_the_scenes(demo, tmp_path):
    for name in ('synscapes', 'mapillary'):
        shutil.copytree(demo / name, tmp_path / name)  # the shared demo set stays as generated
    convert_synscapes(str(tmp_path / 'synscapes'), nproc=1, split_file='train.txt')
    convert_mapillary(str(tmp_path / 'mapillary'), nproc=1)
    for number in (0, 4):
        expected = TRAINID_LUT[_scene('synscapes', number).ids]
        np.testing.assert_array_equal(_ids(tmp_path / f'synscapes/img/class/{number + 1}_labelTrainIds.png'), expected)
    stats = json.loads((tmp_path / 'synscapes/sample_class_stats_dict.json').read_text())
    assert sorted(stats) == [f'img/class/{n}_labelTrainIds.png' for n in range(1, 5)]

    def expected_mapillary(number):
        ids = _scene('mapillary', number).ids
        train_ids = TRAINID_LUT[ids]
        train_ids[ids == PARKING] = 0
        return train_ids

    key = mapillary_key(0)
    np.testing.assert_array_equal(_ids(tmp_path / f'mapillary/cityscapes_trainIdLabel/train/label/{key}.png'),
                                  expected_mapillary(0))
    key = mapillary_key(4)  # the validation image, halved to 32 x 18: nearest takes pixels 2y + 1, 2x + 1
    np.testing.assert_array_equal(_ids(tmp_path / f'mapillary/half/val_label/{key}.png'),
                                  expected_mapillary(4)[1::2, 1::2])
    assert Image.open(tmp_path / f'mapillary/half/val_img/{key}.jpg').size == (SIZE[0] // 2, SIZE[1] // 2)
    stats = json.loads((tmp_path / 'mapillary/sample_class_stats_dict.json').read_text())
    assert sorted(stats) == sorted(f'cityscapes_trainIdLabel/train/label/{mapillary_key(n)}.png' for n in range(4))


def test_manifest_and_counts_follow_scale(demo):
    manifest = json.loads((demo / 'manifest.json').read_text())
    assert manifest['seed'] == 0
    assert manifest['domains']['gta'] == {'folder': 'gta', 'dataset': 'GTA5', 'size': list(SIZE), 'train': 7,
                                          'val': 1}
    assert manifest['domains']['mapillary'] == {'folder': 'mapillary', 'dataset': 'Mapillary Vistas v1.2',
                                                'size': list(SIZE), 'train': 4, 'val': 1}  # 180, 40 * 0.02
    assert manifest['domains']['synscapes']['train'] == 4
    assert DOMAINS_BY_NAME['mapillary'].size == (256, 192) and DOMAINS_BY_NAME['synscapes'].size == (256, 128)
    assert len(list((demo / 'gta/images').iterdir())) == 8
    assert len(list((demo / 'cityscapes/leftImg8bit/train').rglob('*.png'))) == 6  # 300 * 0.02
    assert len(list((demo / 'acdc/rgb_anon/night/val').rglob('*.png'))) == 1  # 50 * 0.02
    assert not [p for p in os.listdir(demo) if p.startswith('.')]  # no temporary folder left


def test_same_seed_same_bytes_any_nproc_other_seed_differs(demo, tmp_path):
    generate(str(tmp_path / 'again'), seed=0, scale=SCALE, size=SIZE, nproc=1)
    generate(str(tmp_path / 'other'), seed=1, scale=SCALE, size=SIZE, nproc=1)
    files = _files(demo)
    assert files == _files(tmp_path / 'again')
    match, mismatch, errors = filecmp.cmpfiles(demo, tmp_path / 'again', [str(f) for f in files], shallow=False)
    assert not mismatch and not errors
    assert not filecmp.cmp(demo / 'gta/labels/00000.png', tmp_path / 'other/gta/labels/00000.png', shallow=False)


def test_refuses_existing_set_unless_overwrite(demo, tmp_path, capsys):
    gta = DOMAINS_BY_NAME['gta']
    out = str(tmp_path / 'set')
    generate(out, scale=SCALE, size=SIZE, nproc=1, domains=[gta])
    with pytest.raises(UserError, match='--overwrite'):
        generate(out, scale=SCALE, size=SIZE, nproc=1, domains=[gta])
    generate(out, scale=2 * SCALE, size=SIZE, nproc=1, domains=[gta], overwrite=True)
    assert len(list((tmp_path / 'set/gta/images').iterdir())) == 16  # 14 + 2, was 7 + 1

    script = Path(__file__).parents[1] / 'tools/make_demo_data.py'
    spec = importlib.util.spec_from_file_location('make_demo_data', script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(['--out', out, '--scale', '0.01', '--size', '64x36', '--nproc', '1']) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith('error: ') and '--overwrite' in last


def test_some_domains_alone_are_the_same_bytes(demo, tmp_path):
    out = tmp_path / 'two'
    generate(str(out), seed=0, scale=SCALE, size=SIZE, nproc=1, domains=select_domains(['idd', 'cityscapes']))
    assert sorted(os.listdir(out)) == ['cityscapes', 'idd_raw', 'manifest.json']
    for folder in ('cityscapes', 'idd_raw'):
        files = _files(out / folder)
        assert files == _files(demo / folder)
        _, mismatch, errors = filecmp.cmpfiles(demo / folder, out / folder, [str(f) for f in files], shallow=False)
        assert not mismatch and not errors
    assert select_domains(None) == DOMAINS
    with pytest.raises(UserError, match='unknown demo domain cityscape; known: gta, synthia'):
        select_domains(['cityscape'])
    with pytest.raises(UserError, match='demo domain acdc_fog shares its folder acdc with acdc_night: name both'):
        select_domains(['acdc_fog'])


def test_interrupted_run_leaves_no_dataset(tmp_path, monkeypatch):
    gta = DOMAINS_BY_NAME['gta']

    def failing(root, split, number, image, scene):
        if number == 2:
            raise RuntimeError('interrupted')
        return gta.writer(root, split, number, image, scene)

    monkeypatch.setitem(DOMAINS_BY_NAME, 'gta', replace(gta, writer=failing))
    with pytest.raises(RuntimeError):
        generate(str(tmp_path), scale=SCALE, size=SIZE, nproc=1, domains=[DOMAINS_BY_NAME['gta']])
    assert os.listdir(tmp_path) == []


def test_size_override_and_lookup_table():
    assert domain_size(DOMAINS_BY_NAME['cityscapes'], 128) == (128, 64)
    assert domain_size(DOMAINS_BY_NAME['gta'], (96, 40)) == (96, 40)
    lut = to_lut({7: 0, 33: 18})
    assert lut.dtype == np.uint8 and lut.shape == (256,)
    assert (lut[7], lut[33], lut[0], lut[255]) == (0, 18, 255, 255)
    assert to_lut({21: 3}, size=65536)[21] == 3
