"""Synscapes: the converter (function and command line) on a tiny fake tree in the released layout
(img/rgb/<n>.png, img/class/<n>.png of Cityscapes labelIds, meta/<n>.json), then `SynscapesDataset` on its
output. Expected trainIds and pixel counts are written out by hand here."""
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
from daseg.datasets import SynscapesDataset
from daseg.datasets.convert.synscapes import convert_synscapes
from daseg.errors import UserError
from entry_points import load_script

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / 'tools' / 'convert_datasets' / 'synscapes.py'
synscapes = load_script('tools/convert_datasets/synscapes')
PIPELINE = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]
H, W = 16, 32
STATS = ('sample_class_stats.json', 'sample_class_stats_dict.json', 'samples_with_class.json')
F1, F2, F3 = (f'img/class/{n}_labelTrainIds.png' for n in (1, 2, 3))


def label_1():
    """Column j holds labelId j (0 unlabeled .. 31 train): every void id below 32 and 17 of the classes."""
    return np.tile(np.arange(W, dtype=np.uint8), (H, 1))


# labelIds 0..31 -> trainIds, from the Cityscapes class list (void: 0-6 unlabeled..ground, 9 parking, 10 rail
# track, 14 guard rail, 15 bridge, 16 tunnel, 18 polegroup, 29 caravan, 30 trailer).
ROW_1 = [255] * 7 + [0, 1, 255, 255, 2, 3, 4, 255, 255, 255, 5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 255, 16]


def label_2():
    """Top row car (26); below it motorcycle (32) on the left half, bicycle (33) on the right."""
    ids = np.zeros((H, W), np.uint8)
    ids[1:, :W // 2], ids[1:, W // 2:], ids[0] = 32, 33, 26
    return ids


def label_3():
    """Only void: unlabeled (0) on top, caravan (29) below."""
    ids = np.zeros((H, W), np.uint8)
    ids[H // 2:] = 29
    return ids


def expected_train_ids():
    two = np.empty((H, W), np.uint8)
    two[1:, :W // 2], two[1:, W // 2:], two[0] = 17, 18, 13
    return {'1': np.array([ROW_1] * H, np.uint8), '2': two, '3': np.full((H, W), 255, np.uint8)}


# Hand counts: label 1 has 16 pixels (one column) of each of trainIds 0..16; label 2 a 32-pixel car row and
# 15 x 16 = 240 pixels each of motorcycle and bicycle; label 3 nothing.
COUNTS = {F1: {str(c): H for c in range(17)}, F2: {'13': W, '17': 240, '18': 240}, F3: {}}


def write_gray(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, dtype=np.uint8), 'L').save(path)


def fake_synscapes(root, labels=None):
    """A Synscapes tree with 16x32 images, 8-bit labelId labels and the meta files the converter ignores."""
    labels = labels or {'1': label_1(), '2': label_2(), '3': label_3()}
    for n, (stem, ids) in enumerate(labels.items()):
        img = np.random.default_rng(n).integers(0, 256, (H, W, 3), dtype=np.uint8)
        (root / 'img' / 'rgb').mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / 'img' / 'rgb' / f'{stem}.png'), img)
        write_gray(root / 'img' / 'class' / f'{stem}.png', ids)
        (root / 'meta').mkdir(exist_ok=True)
        (root / 'meta' / f'{stem}.json').write_text('{"camera": {}, "scene": {}}')
    return root


def read_label(path):
    out = np.asarray(Image.open(path))
    assert out.dtype == np.uint8 and out.shape == (H, W)
    return out


def read_json(root, name):
    return json.loads((root / name).read_text())


def snapshot(root):
    """Every file under root (but the conversion lock) with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file() and 'lock' not in p.name}


def test_trainids_and_statistics_by_hand(tmp_path, capsys):
    root = fake_synscapes(tmp_path)
    paths = convert_synscapes(str(root), nproc=1)
    assert sorted(Path(p).name for p in paths) == sorted(STATS)
    for stem, expected in expected_train_ids().items():
        np.testing.assert_array_equal(read_label(root / 'img' / 'class' / f'{stem}_labelTrainIds.png'), expected)
    assert read_json(root, 'sample_class_stats.json') == [{'file': f, **c} for f, c in COUNTS.items()]
    assert read_json(root, 'sample_class_stats_dict.json') == COUNTS
    with_class = read_json(root, 'samples_with_class.json')
    assert with_class == {**{str(c): [[F1, H]] for c in range(17)}, '13': [[F1, H], [F2, W]],
                          '17': [[F2, 240]], '18': [[F2, 240]]}
    assert list(with_class) == [str(c) for c in range(19)]
    out = capsys.readouterr().out
    assert 'wrote 3 *_labelTrainIds.png labels' in out and 'warning' not in out  # void ids are not "unmapped"


def test_rerun_is_idempotent_and_reads_only_raw_labels(tmp_path, capsys):
    root = fake_synscapes(tmp_path)
    convert_synscapes(str(root), nproc=1)
    first = snapshot(root)
    capsys.readouterr()
    convert_synscapes(str(root), nproc=2)
    assert snapshot(root) == first  # no *_labelTrainIds_labelTrainIds.png, the same bytes
    assert 'wrote 3 *_labelTrainIds.png labels (3 replaced earlier outputs)' in capsys.readouterr().out
    assert sorted(p.name for p in (root / 'img' / 'class').iterdir()) == [
        '1.png', '1_labelTrainIds.png', '2.png', '2_labelTrainIds.png', '3.png', '3_labelTrainIds.png']


def test_split_file_limits_the_statistics_not_the_conversion(tmp_path):
    root = fake_synscapes(tmp_path)
    (root / 'train.txt').write_text('2\n3\n')
    convert_synscapes(str(root), nproc=1, split_file='train.txt')
    assert read_json(root, 'sample_class_stats_dict.json') == {F2: COUNTS[F2], F3: {}}
    assert all((root / f).is_file() for f in (F1, F2, F3))
    (root / 'bad.txt').write_text('2\n25001\n')
    with pytest.raises(UserError, match="lists '25001'"):
        convert_synscapes(str(root), nproc=1, split_file='bad.txt')


def test_unexpected_value_reported_then_refused_with_strict(tmp_path, capsys):
    ids = label_2()
    ids[5, 3], ids[6, 3] = 200, 34  # no Cityscapes labelIds
    root = fake_synscapes(tmp_path, {'7': ids})
    convert_synscapes(str(root), nproc=1)
    out = capsys.readouterr().out
    assert 'warning: 2 pixels in 1 labels' in out and '34 (1 px), 200 (1 px)' in out
    train_ids = read_label(root / 'img' / 'class' / '7_labelTrainIds.png')
    assert train_ids[5, 3] == train_ids[6, 3] == 255 and train_ids[5, 4] == 17
    with pytest.raises(UserError, match=r"label '.*7\.png' holds values without a trainId mapping: 34 \(1 px\), "
                                        r'200 \(1 px\); expected ids 0\.\.33'):
        convert_synscapes(str(root), nproc=1, strict=True)


def error_line(capsys, status):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and 'warn' not in line.lower()]
    assert status == 2 and len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


def test_command_line_errors_are_one_line(tmp_path, capsys):
    missing = tmp_path / 'nowhere'
    assert error_line(capsys, synscapes.main([str(missing)])) == (
        f"error: Synscapes root '{missing}' does not exist; expected a folder with img/rgb/ and img/class/")
    (tmp_path / 'img' / 'rgb').mkdir(parents=True)
    assert f"Synscapes label folder '{tmp_path / 'img' / 'class'}' does not exist" in error_line(
        capsys, synscapes.main([str(tmp_path)]))

    root = fake_synscapes(tmp_path / 'syn')
    corrupt = root / 'img' / 'class' / '2.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\n broken')
    assert f"label '{corrupt}' could not be decoded as an image" in error_line(
        capsys, synscapes.main([str(root), '--nproc', '2']))
    cv2.imwrite(str(corrupt), np.zeros((H, W, 3), np.uint8))  # a colour image, e.g. img/rgb by mistake
    assert f"label '{corrupt}' has PIL mode RGB; expected an 8-bit single-channel" in error_line(
        capsys, synscapes.main([str(root)]))
    write_gray(corrupt, np.full((H, W), 250))
    line = error_line(capsys, synscapes.main([str(root), '--strict']))
    assert f"label '{corrupt}' holds values without a trainId mapping: 250 (512 px)" in line
    assert '--nproc' in error_line(capsys, synscapes.main([str(root), '--nproc', '0']))
    assert not [p for p in root.rglob('*') if p.name.endswith(('.tmp', '.part'))]


def test_script_runs_and_answers_help(tmp_path):
    help_ = subprocess.run([sys.executable, str(SCRIPT), '--help'], capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and help_.stdout.startswith('usage:')
    for option in ('--nproc', '--split-file', '--strict', 'img/class'):
        assert option in help_.stdout

    root = fake_synscapes(tmp_path)
    proc = subprocess.run([sys.executable, str(SCRIPT), str(root), '--nproc', '2'], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'ETA' in proc.stdout and 'statistics of 3 training labels' in proc.stdout
    assert read_json(root, 'sample_class_stats_dict.json') == COUNTS
    np.testing.assert_array_equal(read_label(root / F2), expected_train_ids()['2'])


@pytest.fixture
def mmseg_scope():
    init_default_scope('mmseg')


def test_dataset_lists_pairs_and_loads_a_sample(tmp_path, mmseg_scope):
    root = fake_synscapes(tmp_path)
    convert_synscapes(str(root), nproc=1)
    ds = DATASETS.build(dict(type='SynscapesDataset', data_root=str(root), pipeline=PIPELINE))
    assert isinstance(ds, SynscapesDataset) and ds.metainfo['classes'] == CLASSES and len(CLASSES) == 19
    assert [(d['img_path'], d['seg_map_path']) for d in map(ds.get_data_info, range(len(ds)))] == [
        (str(root / 'img' / 'rgb' / f'{n}.png'), str(root / 'img' / 'class' / f'{n}_labelTrainIds.png'))
        for n in (1, 2, 3)]
    # The statistics name the labels the dataset reads (rare-class sampling matches them by path).
    assert [str(root / f) for f in read_json(root, 'sample_class_stats_dict.json')] == [
        ds.get_data_info(i)['seg_map_path'] for i in range(len(ds))]

    (root / 'val.txt').write_text('2\n')
    val = DATASETS.build(dict(type='SynscapesDataset', data_root=str(root), ann_file='val.txt', pipeline=PIPELINE))
    assert len(val) == 1
    sample = val[0]
    bgr = cv2.imread(str(root / 'img' / 'rgb' / '2.png'))
    np.testing.assert_array_equal(sample['inputs'].numpy().transpose(1, 2, 0), bgr)
    np.testing.assert_array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(), expected_train_ids()['2'])
    assert sample['data_samples'].seg_map_path == str(root / 'img' / 'class' / '2_labelTrainIds.png')


def test_dataset_before_conversion_names_the_converter(tmp_path, mmseg_scope):
    root = fake_synscapes(tmp_path)
    with pytest.raises(UserError, match=r"label missing for image '.*1\.png': expected '.*1_labelTrainIds\.png'"):
        DATASETS.build(dict(type='SynscapesDataset', data_root=str(root), pipeline=PIPELINE))
    images_only = tmp_path / 'images_only'
    (images_only / 'img' / 'rgb').mkdir(parents=True)
    with pytest.raises(UserError, match=r'label folder .* does not exist; expected img/rgb/\*\.png and '
                                        r'img/class/\*_labelTrainIds\.png \(run tools/convert_datasets/synscapes'):
        DATASETS.build(dict(type='SynscapesDataset', data_root=str(images_only), pipeline=PIPELINE))
