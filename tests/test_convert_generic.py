"""One's own dataset: label maps (JSON, YAML, CSV; raw ids or colours) -> exact trainIds and hand-counted
statistics, one clear line for a bad map, a dataset class and an unlabelled target, and metrics on a class count
other than 19."""
import json

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

import daseg  # noqa: F401  (registers the datasets and transforms)
from daseg.datasets import UDADataset
from daseg.datasets.convert.generic import convert_generic
from daseg.datasets.convert.label_map_file import read_label_map
from daseg.evaluation import ConfusionMatrix, target_result
from daseg.errors import UserError
from entry_points import load_script

main = load_script('tools/convert_datasets/generic').main  # the command line

CLASSES = ['road', 'building', 'vegetation', 'sky', 'car']
PALETTE = [[128, 64, 128], [70, 70, 70], [107, 142, 35], [70, 130, 180], [0, 0, 142]]
# Raw ids -> trainIds: a class name or an index as value; 0 is void on purpose, 99 is not in the map.
ID_MAP = {'classes': CLASSES, 'palette': PALETTE,
          'ids': {'7': 0, '11': 1, '21': 'vegetation', '23': 3, '300': 'sky', '26': 4, '0': None}}
A, B = 'labels/a_labelTrainIds.png', 'labels/city/b_labelTrainIds.png'


def write_map(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def id_dataset(root):
    """An 8-bit label a (3x4) and a 16-bit label city/b (2x3), with their images."""
    (root / 'labels' / 'city').mkdir(parents=True)
    (root / 'images' / 'city').mkdir(parents=True)
    a = np.array([[7, 7, 11, 0], [21, 23, 26, 99], [26, 26, 7, 11]], np.uint8)
    b = np.array([[23, 300, 23], [0, 21, 99]], np.uint16)
    Image.fromarray(a, 'L').save(root / 'labels' / 'a.png')
    cv2.imwrite(str(root / 'labels' / 'city' / 'b.png'), b)  # a 16-bit single-channel PNG
    for stem, shape in (('a', a.shape), ('city/b', b.shape)):
        Image.fromarray(np.zeros((*shape, 3), np.uint8)).save(root / 'images' / f'{stem}.png')
    return root


def train_ids(path):
    return np.asarray(Image.open(path)).tolist()


def test_ids_to_train_ids_and_statistics(tmp_path, capsys):
    root = id_dataset(tmp_path / 'data')
    label_map = write_map(tmp_path / 'map.json', ID_MAP)
    convert_generic(str(root), label_map, nproc=1)
    assert train_ids(root / A) == [[0, 0, 1, 255], [2, 3, 4, 255], [4, 4, 0, 1]]
    assert train_ids(root / B) == [[3, 3, 3], [255, 2, 255]]
    stats = json.loads((root / 'sample_class_stats.json').read_text())
    assert stats == [{'file': A, '0': 3, '1': 2, '2': 1, '3': 1, '4': 3}, {'file': B, '2': 1, '3': 3}]
    with_class = json.loads((root / 'samples_with_class.json').read_text())
    assert with_class == {'0': [[A, 3]], '1': [[A, 2]], '2': [[A, 1], [B, 1]], '3': [[A, 1], [B, 3]], '4': [[A, 3]]}
    out = capsys.readouterr().out
    assert "label map '" + label_map + "': 5 classes, 7 raw ids" in out
    # 99 is reported as today's converters report unmapped values; 0 is void on purpose and is not.
    assert ("warning: 2 pixels in 2 labels hold values without a trainId mapping and became 255 (ignored): "
            f"99 (2 px); first in '{root / 'labels' / 'a.png'}'") in out


def test_strict_stops_at_an_unmapped_id(tmp_path, capsys):
    root = id_dataset(tmp_path / 'data')
    label_map = write_map(tmp_path / 'map.json', ID_MAP)
    assert main([str(root), '--label-map', label_map, '--strict', '--nproc', '1']) == 2
    err = capsys.readouterr().err
    assert err == (f"error: label '{root / 'labels' / 'a.png'}' holds values without a trainId mapping: 99 (1 px); "
                   f"expected the ids of the label map '{label_map}' (--strict)\n")


def test_colours_from_yaml(tmp_path, capsys):
    (tmp_path / 'masks').mkdir()
    rgb = np.array([[[128, 64, 128], [70, 70, 70], [107, 142, 35], [1, 2, 3]],
                    [[70, 130, 180], [0, 0, 142], [0, 0, 0], [0, 0, 142]]], np.uint8)
    Image.fromarray(rgb).save(tmp_path / 'masks' / 'x_color.png')
    (tmp_path / 'map.yaml').write_text('classes: [road, building, vegetation, sky, car]\n'
                                       'colors:\n  "#804080": road\n  70,70,70: 1\n  "107 142 35": 2\n'
                                       '  "#4682B4": 3\n  0,0,142: car\n  0,0,0: 255\n')
    assert main([str(tmp_path), '--label-map', str(tmp_path / 'map.yaml'), '--label-dir', 'masks',
                 '--label-suffix', '_color.png', '--nproc', '1']) == 0
    assert train_ids(tmp_path / 'masks' / 'x_labelTrainIds.png') == [[0, 1, 2, 255], [3, 4, 255, 4]]
    stats = json.loads((tmp_path / 'sample_class_stats.json').read_text())
    assert stats == [{'file': 'masks/x_labelTrainIds.png', '0': 1, '1': 1, '2': 1, '3': 1, '4': 2}]
    assert '#010203 (1 px)' in capsys.readouterr().out
    # Without a palette, a colour-coded dataset's classes keep their own colours.
    assert read_label_map(str(tmp_path / 'map.yaml')).palette == tuple(map(tuple, PALETTE))


def test_csv_map_equals_json(tmp_path):
    rows = ['id,train_id,name,palette', '7,0,road,#804080', '11,1,building,70 70 70', '21,2,vegetation,107 142 35',
            '23,3,sky,#4682b4', '300,3,sky,', '26,4,car,"0,0,142"', '0,255,,']
    (tmp_path / 'map.csv').write_text('\n'.join(rows) + '\n')
    from_csv = read_label_map(str(tmp_path / 'map.csv'))
    from_json = read_label_map(write_map(tmp_path / 'map.json', ID_MAP))
    assert from_csv._replace(path='') == from_json._replace(path='')
    assert from_json.mapping == {7: 0, 11: 1, 21: 2, 23: 3, 300: 3, 26: 4, 0: 255}


def test_statistics_beyond_19_classes(tmp_path):
    """Classes 19 and above are counted (the statistics once stopped at the 19 Cityscapes classes)."""
    (tmp_path / 'labels').mkdir()
    Image.fromarray(np.array([[0, 20, 20, 19]], np.uint8), 'L').save(tmp_path / 'labels' / 'a.png')
    classes = [f'c{i}' for i in range(21)]
    convert_generic(str(tmp_path), write_map(tmp_path / 'm.json', {'classes': classes,
                                                                    'ids': {str(i): i for i in range(21)}}))
    stats = json.loads((tmp_path / 'sample_class_stats.json').read_text())
    assert stats == [{'file': 'labels/a_labelTrainIds.png', '0': 1, '19': 1, '20': 2}]


BAD_MAPS = {
    'index out of range': ({'classes': ['a', 'b'], 'ids': {'1': 2}}, "ids['1']: 2 is no trainId; expected 0..1"),
    'unknown class name': ({'classes': ['a'], 'ids': {'1': 'b'}}, "'b' is no trainId"),
    'bad colour': ({'classes': ['a'], 'colors': {'#12345': 0}}, "'#12345' is no colour"),
    'ids and colours': ({'classes': ['a'], 'ids': {'1': 0}, 'colors': {'#123456': 0}}, 'exactly one'),
    'repeated class': ({'classes': ['a', 'a'], 'ids': {'1': 0}}, 'class names repeat'),
    'negative id': ({'classes': ['a'], 'ids': {'-1': 0}}, "raw id '-1' is not an integer in 0..65535"),
    'palette length': ({'classes': ['a', 'b'], 'palette': [[1, 2, 3]], 'ids': {'1': 0}}, 'one colour per class'),
    'not JSON': ('{"classes": [', 'could not be parsed'),
    'no classes': ({'ids': {'1': 0}}, "'classes' must be a list"),
}


@pytest.mark.parametrize('case', list(BAD_MAPS))
def test_bad_map_is_one_clear_line(tmp_path, capsys, case):
    content, expected = BAD_MAPS[case]
    (tmp_path / 'labels').mkdir()
    path = tmp_path / 'map.json'
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert main([str(tmp_path), '--label-map', str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: label map '{path}'") and err.count('\n') == 1 and expected in err


def test_missing_map(tmp_path, capsys):
    assert main([str(tmp_path), '--label-map', str(tmp_path / 'nope.json')]) == 2
    assert capsys.readouterr().err == (f"error: label map '{tmp_path / 'nope.json'}' does not exist; expected a JSON, "
                                       'YAML or CSV file\n')


def test_dataset_and_unlabelled_target(tmp_path):
    """GenericSegDataset takes its classes from the map; an image folder without labels is a UDA target."""
    init_default_scope('mmseg')
    root = id_dataset(tmp_path / 'data')
    label_map = write_map(tmp_path / 'map.json', ID_MAP)
    convert_generic(str(root), label_map)
    source = dict(type='GenericSegDataset', data_root=str(root), label_map_file=label_map,
                  pipeline=[dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'),
                            dict(type='PackSegInputs')])
    built = DATASETS.build(source)
    assert built.metainfo['classes'] == tuple(CLASSES) and built.metainfo['palette'] == PALETTE
    target = dict(type='GenericSegDataset', data_root=str(root), data_prefix=dict(img_path='images'),
                  img_suffix='.png', pipeline=[dict(type='LoadImageChecked'), dict(type='PackSegInputs')])
    uda = UDADataset(source, target, rare_class_sampling=dict(class_temp=1.0, min_pixels=0, min_crop_ratio=0))
    # Pixels per class over both labels: 3, 2, 2, 4, 3 of 14; P(c) = softmax(1 - n_c / 14).
    counts = np.array([3, 2, 2, 4, 3])
    expected = np.exp(1 - counts / 14) / np.exp(1 - counts / 14).sum()
    assert uda.rcs_classes == [0, 1, 2, 3, 4] and np.allclose(uda.rcs_probs, expected)
    item = uda[0]
    assert 'gt_sem_seg' in item['data_samples'] and 'gt_sem_seg' not in item['target_data_samples']
    assert set(item['data_samples'].gt_sem_seg.data.unique().tolist()) <= {0, 1, 2, 3, 4, 255}
    with pytest.raises(UserError, match="a labelled dataset needs its classes: give label_map_file="):
        DATASETS.build(dict(source, label_map_file=None))


def test_metrics_on_five_classes():
    """A hand-computed 5-class confusion matrix: class 2 is predicted but absent (IoU 0), class 4 absent from
    both (NaN, left out of the means)."""
    matrix = np.array([[5, 1, 0, 0, 0], [0, 3, 1, 0, 0], [0, 0, 0, 0, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 0]])
    gt, pred = np.nonzero(matrix)
    repeats = matrix[gt, pred]
    confusion = ConfusionMatrix(5)
    confusion.update(torch.from_numpy(np.repeat(pred, repeats)), torch.from_numpy(np.repeat(gt, repeats)))
    assert (confusion.matrix == matrix).all()
    result = target_result(confusion.matrix, CLASSES)
    iou = [5 / 8, 3 / 5, 0, 4 / 6]
    assert result['IoU']['road'] == pytest.approx(62.5) and np.isnan(result['IoU']['car'])
    assert result['mIoU'] == pytest.approx(100 * sum(iou) / 4)
    assert result['aAcc'] == pytest.approx(75.0) and result['mAcc'] == pytest.approx(100 * (5 / 6 + 3 / 4 + 4 / 6) / 3)
    with pytest.raises(UserError, match='eval_classes16 .* needs the 19 Cityscapes classes; these targets have 5'):
        target_result(matrix, CLASSES, classes16=True)
