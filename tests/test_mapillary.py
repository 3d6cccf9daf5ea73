"""Mapillary Vistas v1.2 -> 19 Cityscapes trainIds: the name rules (ORIGINALS_2.md 4.6) label by label, the
converter (function and command line) on a tiny fake release, its errors, and `MapillaryCSDataset` on its
output. Expected trainIds, pixel counts and the half-size sampling are written out by hand here."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import daseg  # noqa: F401  (registers the datasets and transforms)
from daseg.classes import CLASSES
from daseg.datasets import MapillaryCSDataset
from daseg.datasets.convert.mapillary import convert_mapillary
from daseg.datasets.convert.mapillary_rules import mapillary_rule
from daseg.errors import UserError
from entry_points import load_script
from test_synscapes import error_line, snapshot  # the one 'error:' line of a command; every file with its bytes

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / 'tools' / 'convert_datasets' / 'mapillary.py'
mapillary = load_script('tools/convert_datasets/mapillary')
PIPELINE = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]
STATS = ('sample_class_stats.json', 'sample_class_stats_dict.json', 'samples_with_class.json')

# Every label of Mapillary Vistas v1.2 in its order, with the trainId the rules give it, worked out by hand:
# 0 road, 1 sidewalk, 2 building, 3 wall, 4 fence, 5 pole, 6 traffic light, 7 traffic sign, 8 vegetation,
# 9 terrain, 10 sky, 11 person, 12 rider, 13 car, 14 truck, 15 bus, 16 train, 17 motorcycle, 18 bicycle.
V12 = [
    ('Bird', 255), ('Ground Animal', 255), ('Curb', 1), ('Fence', 4), ('Guard Rail', 255), ('Barrier', 255),
    ('Wall', 3), ('Bike Lane', 0), ('Crosswalk - Plain', 0), ('Curb Cut', 1), ('Parking', 0),
    ('Pedestrian Area', 1), ('Rail Track', 255), ('Road', 0), ('Service Lane', 0), ('Sidewalk', 1),
    ('Bridge', 255), ('Building', 2), ('Tunnel', 255), ('Person', 11), ('Bicyclist', 12), ('Motorcyclist', 12),
    ('Other Rider', 12), ('Lane Marking - Crosswalk', 0), ('Lane Marking - General', 0), ('Mountain', 255),
    ('Sand', 255), ('Sky', 10), ('Snow', 255), ('Terrain', 9), ('Vegetation', 8), ('Water', 255), ('Banner', 255),
    ('Bench', 255), ('Bike Rack', 255), ('Billboard', 255), ('Catch Basin', 255), ('CCTV Camera', 255),
    ('Fire Hydrant', 255), ('Junction Box', 255), ('Mailbox', 255), ('Manhole', 255), ('Phone Booth', 255),
    ('Pothole', 255), ('Street Light', 5), ('Pole', 5), ('Traffic Sign Frame', 7), ('Utility Pole', 5),
    ('Traffic Light', 6), ('Traffic Sign (Back)', 7), ('Traffic Sign (Front)', 7), ('Trash Can', 255),
    ('Bicycle', 18), ('Boat', 255), ('Bus', 15), ('Car', 13), ('Caravan', 255), ('Motorcycle', 17),
    ('On Rails', 16), ('Other Vehicle', 255), ('Trailer', 255), ('Truck', 14), ('Wheeled Slow', 255),
    ('Car Mount', 255), ('Ego Vehicle', 255), ('Unlabeled', 255)]


@pytest.mark.parametrize('readable,train_id', V12)
def test_v12_labels_class_by_class(readable, train_id):
    assert mapillary_rule(readable)[0] == train_id


@pytest.mark.parametrize('readable,train_id,rule', [
    ('Traffic Light', 6, "the class name 'traffic light'"),  # exact names come first ...
    ('TRAFFIC-LIGHT', 6, "the class name 'traffic light'"),  # ... after lower case, without spaces and hyphens
    ('Traffic Sign', 7, "the class name 'traffic sign'"),
    ('Traffic Sign Frame', 7, "contains 'trafficsign'"),
    ('Front Pole', 7, "contains 'front'"),  # the sign rule is tried before the pole rule
    ('Backyard', 7, "contains 'back'"),  # a bare substring rule, as written
    ('Rider On Rails', 16, "contains 'onrail'"),  # train before rider
    ('Cyclist Pole', 12, "contains 'cyclist'"),  # rider before pole
    ('Curb Parking', 1, "contains 'curb'"),  # sidewalk before road
    ('Ego Vehicle', 255, 'no rule matches'),
])
def test_rule_order_and_normalisation(readable, train_id, rule):
    assert mapillary_rule(readable) == (train_id, rule)


# The fake release's config: a few labels in an order of its own (not v1.2's indices), so that the converter
# must read the list. Their trainIds by the rules: road, sidewalk, car, traffic sign, ignore, rider, sky, ignore.
LABELS = [('construction--flat--road', 'Road', (128, 64, 128)),
          ('construction--barrier--curb', 'Curb', (196, 196, 196)), ('object--vehicle--car', 'Car', (0, 0, 142)),
          ('object--traffic-sign--back', 'Traffic Sign (Back)', (192, 192, 192)),
          ('void--ego-vehicle', 'Ego Vehicle', (120, 10, 10)), ('human--rider--bicyclist', 'Bicyclist', (255, 0, 0)),
          ('nature--sky', 'Sky', (70, 130, 180)), ('void--unlabeled', 'Unlabeled', (0, 0, 0))]
TO_TRAIN = [0, 1, 13, 7, 255, 12, 10, 255]
CONFIG = {'labels': [dict(color=list(c), instances=False, readable=r, name=n, evaluate=True) for n, r, c in LABELS]}
H, W = 4, 6  # training frames
VH, VW = 7, 10  # the validation frame; odd height: the half size rounds down to 3 x 5


def label_a():
    """Sky row; sign x2 + ego x4; car x3 + bicyclist x3; road x4 + curb x2."""
    return np.array([[6] * 6, [3, 3, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [0, 0, 0, 0, 1, 1]], np.uint8)


def label_b():
    """All unlabeled but one road pixel."""
    ids = np.full((H, W), 7, np.uint8)
    ids[2, 3] = 0
    return ids


def label_v():
    """(row + column) % 8: every label index, a different one at each pixel of a row."""
    return ((np.arange(VH)[:, None] + np.arange(VW)[None, :]) % 8).astype(np.uint8)


A_TRAIN = np.array([[10] * 6, [7, 7, 255, 255, 255, 255], [13, 13, 13, 12, 12, 12], [0, 0, 0, 0, 1, 1]], np.uint8)
FA, FB = (f'cityscapes_trainIdLabel/train/label/{k}.png' for k in ('aaa', 'bbb'))
COUNTS = {FA: {'0': 4, '1': 2, '7': 2, '10': 6, '12': 3, '13': 3}, FB: {'0': 1}}
# PIL's nearest resampling to (10 // 2, 7 // 2) = (5, 3) takes source column floor((x + 0.5) * 10 / 5) = 2x + 1
# and source row floor((y + 0.5) * 7 / 3): rows 1, 3, 5.
HALF_ROWS, HALF_COLS = [1, 3, 5], [1, 3, 5, 7, 9]


def write_palette(path, ids):
    """An 8-bit palette PNG of label indices with the config colours, as the release stores them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(ids, 'L').convert('P')
    img.putpalette([v for _, _, c in LABELS for v in c] + [0] * 3 * (256 - len(LABELS)))
    img.save(path)


def write_image(path, h, w, seed):
    """A smooth JPEG (a gradient plus a little noise), so that its bicubic half survives JPEG compression."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grad = np.linspace(40, 200, w)[None, :, None] + np.linspace(0, 40, h)[:, None, None]
    img = np.clip(grad + rng.normal(0, 2, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, quality=98)
    return img


def fake_mapillary(root, label_dir='labels'):
    """Two training frames (a palette and a grey label), one validation frame, config_v1.2.json."""
    root.mkdir(parents=True, exist_ok=True)
    (root / 'config_v1.2.json').write_text(json.dumps(CONFIG))
    write_image(root / 'training' / 'images' / 'aaa.jpg', H, W, 0)
    write_palette(root / 'training' / label_dir / 'aaa.png', label_a())
    write_image(root / 'training' / 'images' / 'bbb.jpg', H, W, 1)
    (root / 'training' / label_dir).mkdir(parents=True, exist_ok=True)
    Image.fromarray(label_b(), 'L').save(root / 'training' / label_dir / 'bbb.png')
    write_image(root / 'validation' / 'images' / 'vvv.jpg', VH, VW, 2)
    write_palette(root / 'validation' / label_dir / 'vvv.png', label_v())
    return root


def read_png(path):
    out = np.asarray(Image.open(path))
    assert out.dtype == np.uint8 and out.ndim == 2
    return out


def read_json(path):
    return json.loads(Path(path).read_text())


def expected_val():
    lut = np.array(TO_TRAIN, np.uint8)
    return lut[label_v()]


def test_converter_by_hand(tmp_path, capsys):
    root = fake_mapillary(tmp_path / 'mapillary')
    raw = snapshot(root)
    paths = convert_mapillary(str(root), nproc=1)
    assert [Path(p).relative_to(root).as_posix() for p in paths] == ['cityscapes_trainIdLabel/label_map.json', *STATS]
    np.testing.assert_array_equal(read_png(root / FA), A_TRAIN)
    b = np.full((H, W), 255, np.uint8)
    b[2, 3] = 0
    np.testing.assert_array_equal(read_png(root / FB), b)
    val = read_png(root / 'cityscapes_trainIdLabel' / 'val' / 'label' / 'vvv.png')
    np.testing.assert_array_equal(val, expected_val())
    assert val[0, :8].tolist() == [0, 1, 13, 7, 255, 12, 10, 255]  # the label indices 0..7, mapped

    half = read_png(root / 'half' / 'val_label' / 'vvv.png')
    assert half.shape == (3, 5)
    np.testing.assert_array_equal(half, expected_val()[np.ix_(HALF_ROWS, HALF_COLS)])
    half_img = Image.open(root / 'half' / 'val_img' / 'vvv.jpg')
    assert (half_img.format, half_img.size) == ('JPEG', (5, 3))
    source = Image.open(root / 'validation' / 'images' / 'vvv.jpg')
    bicubic = np.asarray(source.resize((5, 3), Image.BICUBIC), np.float32)
    assert np.abs(np.asarray(half_img, np.float32) - bicubic).mean() < 3  # JPEG quality 95 of the bicubic half

    assert read_json(root / 'sample_class_stats.json') == [{'file': f, **c} for f, c in COUNTS.items()]
    assert read_json(root / 'sample_class_stats_dict.json') == COUNTS  # training only: no validation frame
    assert read_json(root / 'samples_with_class.json') == {
        '0': [[FA, 4], [FB, 1]], '1': [[FA, 2]], '7': [[FA, 2]], '10': [[FA, 6]], '12': [[FA, 3]], '13': [[FA, 3]]}
    assert {k: v for k, v in snapshot(root).items() if k in raw} == raw  # the release is not changed

    table = read_json(root / 'cityscapes_trainIdLabel' / 'label_map.json')
    assert [row['train_id'] for row in table['labels']] == TO_TRAIN
    assert table['labels'][3] == {'index': 3, 'name': 'object--traffic-sign--back', 'readable': 'Traffic Sign (Back)',
                                  'train_id': 7, 'class': 'traffic sign', 'rule': "contains 'trafficsign'"}
    assert table['classes'] == {'road': ['Road'], 'sidewalk': ['Curb'], 'traffic sign': ['Traffic Sign (Back)'],
                                'sky': ['Sky'], 'rider': ['Bicyclist'], 'car': ['Car'],
                                'ignored': ['Ego Vehicle', 'Unlabeled']}
    out = capsys.readouterr().out
    assert '  rider <- Bicyclist\n' in out and '  ignored <- Ego Vehicle, Unlabeled\n' in out
    assert 'warning: no Mapillary label maps to building, wall, fence, pole, traffic light, vegetation, ' in out
    assert 'wrote 2 training and 1 validation trainId labels, 1 half-resolution validation images' in out


def test_rgb_labels_and_vistas2_folder_give_the_same_result(tmp_path):
    index = fake_mapillary(tmp_path / 'index')
    convert_mapillary(str(index), nproc=1)
    rgb = fake_mapillary(tmp_path / 'rgb', label_dir='v1.2/labels')  # the Vistas 2.0 download's folder
    colours = np.array([c for _, _, c in LABELS], np.uint8)
    for label in (rgb / 'training' / 'v1.2' / 'labels').glob('*.png'):
        cv2.imwrite(str(label), colours[read_png(label)][..., ::-1])  # the config colours, RGB (cv2 writes BGR)
    convert_mapillary(str(rgb), nproc=2)
    for rel in (FA, FB, 'cityscapes_trainIdLabel/val/label/vvv.png', 'half/val_label/vvv.png'):
        assert (rgb / rel).read_bytes() == (index / rel).read_bytes(), rel

    label = rgb / 'training' / 'v1.2' / 'labels' / 'aaa.png'
    bad = cv2.imread(str(label))
    bad[0, 0] = (1, 2, 3)  # BGR of #030201, no label colour
    cv2.imwrite(str(label), bad)
    with pytest.raises(UserError, match=r"label '.*aaa\.png' holds colours that are no label colour of the config: "
                                        r'#030201 \(1 px\)'):
        convert_mapillary(str(rgb), nproc=1)


def test_rerun_replaces_outputs_with_the_same_bytes(tmp_path, capsys):
    root = fake_mapillary(tmp_path)
    convert_mapillary(str(root), nproc=1)
    first = snapshot(root)
    capsys.readouterr()
    convert_mapillary(str(root), nproc=2)
    assert snapshot(root) == first
    assert '(3 replaced earlier outputs)' in capsys.readouterr().out


def test_bad_inputs_end_in_one_line(tmp_path, capsys):
    missing = tmp_path / 'nowhere'
    assert error_line(capsys, mapillary.main([str(missing)])).startswith(
        f"error: Mapillary root '{missing}' does not exist; expected a folder with config_v1.2.json, training/images")
    root = fake_mapillary(tmp_path / 'm')
    config = root / 'config_v1.2.json'

    config.unlink()
    assert f"Mapillary config '{config}' does not exist" in error_line(capsys, mapillary.main([str(root)]))
    config.write_text('{"labels": [')
    assert f"Mapillary config '{config}' could not be parsed" in error_line(capsys, mapillary.main([str(root)]))
    config.write_text('{"classes": []}')
    assert "expected a 'labels' list" in error_line(capsys, mapillary.main([str(root)]))
    config.write_text(json.dumps({'labels': [{'name': 'x', 'color': [0, 0, 0]}]}))
    assert "labels[0] must have a 'readable' name and a 'color'" in error_line(capsys, mapillary.main([str(root)]))
    other = tmp_path / 'other.json'  # --config, absolute; only 6 labels, but aaa.png's sky row is index 6
    other.write_text(json.dumps({'labels': CONFIG['labels'][:6]}))
    assert error_line(capsys, mapillary.main([str(root), '--config', str(other)])).startswith(
        f"error: label '{root / 'training' / 'labels' / 'aaa.png'}' holds label index 6 (6 px) but '{other}' lists "
        '6 labels (0..5)')
    config.write_text(json.dumps(CONFIG))

    label = root / 'training' / 'labels' / 'bbb.png'
    label.write_bytes(b'\x89PNG\r\n\x1a\n broken')
    assert f"label '{label}' could not be decoded as an image" in error_line(capsys, mapillary.main(
        [str(root), '--nproc', '2']))
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(label)
    assert f"label '{label}' is {W}x{H + 1} but its image" in error_line(capsys, mapillary.main([str(root)]))
    label.unlink()
    line = error_line(capsys, mapillary.main([str(root)]))
    assert f"1 of 2 images in '{root / 'training' / 'images'}' have no label; first: " in line
    assert f"expected '{label}'" in line
    Image.fromarray(label_b()).save(label)

    image = root / 'validation' / 'images' / 'vvv.jpg'
    image.write_bytes(b'\xff\xd8 not a jpeg')
    assert f"image '{image}' could not be decoded as an image" in error_line(capsys, mapillary.main([str(root)]))
    image.unlink()
    assert "1 of 1 labels in '" in error_line(capsys, mapillary.main([str(root)]))
    for folder in (root / 'validation' / 'labels', root / 'validation' / 'images'):
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    assert f"Mapillary image folder '{root / 'validation' / 'images'}' does not exist" in error_line(
        capsys, mapillary.main([str(root)]))
    assert '--nproc' in error_line(capsys, mapillary.main([str(root), '--nproc', '0']))
    assert not [p for p in root.rglob('*') if p.name.endswith(('.tmp', '.part'))]


def test_command_line_converts_and_script_answers_help(tmp_path, capsys):
    help_ = subprocess.run([sys.executable, str(SCRIPT), '--help'], capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and help_.stdout.startswith('usage:')
    for option in ('--nproc', '--config', 'half/val_img', 'label_map.json'):
        assert option in help_.stdout
    root = fake_mapillary(tmp_path)
    assert mapillary.main([str(root), '--nproc', '2']) == 0  # in this process: importing torch again costs seconds
    out = capsys.readouterr().out
    assert 'ETA' in out and 'statistics of 2 training labels' in out
    assert read_json(root / 'sample_class_stats_dict.json') == COUNTS


@pytest.fixture
def mmseg_scope():
    init_default_scope('mmseg')


def test_dataset_reads_the_training_and_halved_validation_splits(tmp_path, mmseg_scope):
    root = fake_mapillary(tmp_path)
    with pytest.raises(UserError, match=r'label folder .*cityscapes_trainIdLabel/train/label\' does not exist; '
                                        r'expected training/images/\*\.jpg with .* \(run tools/convert_datasets/'
                                        r'mapillary\.py\)'):
        DATASETS.build(dict(type='MapillaryCSDataset', data_root=str(root), pipeline=PIPELINE))
    convert_mapillary(str(root), nproc=1)
    ds = DATASETS.build(dict(type='MapillaryCSDataset', data_root=str(root), pipeline=PIPELINE))
    assert isinstance(ds, MapillaryCSDataset) and ds.metainfo['classes'] == CLASSES
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(d['img_path'], d['seg_map_path']) for d in infos] == [
        (str(root / 'training' / 'images' / f'{k}.jpg'), str(root / 'cityscapes_trainIdLabel' / 'train' / 'label' /
                                                             f'{k}.png')) for k in ('aaa', 'bbb')]
    # The statistics name the labels the dataset reads (rare-class sampling matches them by path).
    assert [str(root / f) for f in read_json(root / 'sample_class_stats_dict.json')] == [
        d['seg_map_path'] for d in infos]
    sample = ds[0]
    np.testing.assert_array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(), A_TRAIN)

    val = DATASETS.build(dict(type='MapillaryCSDataset', data_root=str(root), pipeline=PIPELINE,
                              data_prefix=dict(img_path='half/val_img', seg_map_path='half/val_label')))
    sample = val[0]
    assert tuple(sample['inputs'].shape) == (3, 3, 5)
    np.testing.assert_array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(),
                                  expected_val()[np.ix_(HALF_ROWS, HALF_COLS)])
    # The default prefix is not shared between instances (mmengine writes the joined paths into it).
    again = DATASETS.build(dict(type='MapillaryCSDataset', data_root=str(root), pipeline=PIPELINE))
    assert again.get_data_info(0)['img_path'] == infos[0]['img_path']
