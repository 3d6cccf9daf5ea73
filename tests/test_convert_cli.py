"""Converter command lines: exit status 2 with one 'error:' line, atomic outputs, IDD/ACDC/Dark Zurich layouts."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from daseg.datasets.convert.atomic import write_bytes_atomic
from daseg.datasets.convert.idd import convert_idd
from entry_points import load_script

# The converter scripts, whose main(argv) is the command line.
acdc, cityscapes, dark_zurich, gta, idd, synthia = (load_script(f'tools/convert_datasets/{name}') for name in (
    'acdc', 'cityscapes', 'darkzurich', 'gta', 'idd', 'synthia'))

REPO = Path(__file__).resolve().parents[1]


def error_lines(err):
    """stderr lines other than import-time library warnings."""
    return [line for line in err.splitlines() if line.strip() and 'warn' not in line.lower()]


def assert_one_error(capsys, status, *names):
    err = capsys.readouterr().err
    assert status == 2
    lines = error_lines(err)
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    for name in names:
        assert str(name) in lines[0]


def write_gray(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(values, dtype=np.uint8), 'L').save(path)


def write_image(path, height, width, ext_flags=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 90, np.uint8), list(ext_flags))


def no_temp_files(root):
    return not [p for p in Path(root).rglob('*') if p.name.endswith(('.tmp', '.part'))]


def test_cli_missing_root_exits_2_with_one_line(tmp_path):
    missing = tmp_path / 'no_gta_here'
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'convert_datasets' / 'gta.py'), str(missing)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [f"error: GTA root '{missing}' does not exist; expected a folder with "
                                        'images/ and labels/']
    assert 'Traceback' not in proc.stderr


@pytest.mark.parametrize('module, layout', [
    (gta, 'labels'), (synthia, 'GT/LABELS'), (cityscapes, 'gtFine'), (acdc, 'rgb_anon'),
    (dark_zurich, 'rgb_anon')])
def test_missing_expected_subfolder(tmp_path, capsys, module, layout):
    assert_one_error(capsys, module.main([str(tmp_path)]), tmp_path / layout)


def test_bad_nproc(tmp_path, capsys):
    assert_one_error(capsys, gta.main([str(tmp_path), '--nproc', '0']), '--nproc')


def test_unreadable_label_in_a_worker_is_named(tmp_path, capsys):
    write_gray(tmp_path / 'labels' / '00001.png', [[7, 8]])
    (tmp_path / 'labels' / '00002.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    assert_one_error(capsys, gta.main([str(tmp_path), '--nproc', '2']), tmp_path / 'labels' / '00002.png')
    assert no_temp_files(tmp_path)


def test_synthia_color_label_is_rejected(tmp_path, capsys):
    write_image(tmp_path / 'GT' / 'LABELS' / '0000000.png', 2, 2)  # 8-bit RGB, like GT/COLOR
    assert_one_error(capsys, synthia.main([str(tmp_path)]), tmp_path / 'GT' / 'LABELS' / '0000000.png', '16-bit')


def test_outputs_atomic_and_reruns_replace(tmp_path, capsys):
    write_gray(tmp_path / 'labels' / '00001.png', [[7, 8], [26, 0]])
    write_gray(tmp_path / 'labels' / '00002.png', [[7, 7], [7, 7]])
    assert gta.main([str(tmp_path), '--nproc', '2']) == 0
    assert gta.main([str(tmp_path), '--nproc', '1']) == 0
    out = capsys.readouterr().out
    assert 'ETA' in out and '(2 replaced earlier outputs)' in out
    assert sorted(p.name for p in (tmp_path / 'labels').iterdir()) == [
        '00001.png', '00001_labelTrainIds.png', '00002.png', '00002_labelTrainIds.png']
    assert no_temp_files(tmp_path)


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_bytes_atomic(str(tmp_path / 'x.png'), 'text, not bytes')
    assert list(tmp_path.iterdir()) == []


def idd_raw(root):
    write_image(root / 'leftImg8bit' / 'train' / '0' / '005506_leftImg8bit.jpg', 6, 8)
    write_gray(root / 'gtFine' / 'train' / '0' / '005506_gtFine_labelcsTrainIds.png',
               np.array([[0] * 8, [1] * 8, [13] * 8, [18] * 8, [19] * 8, [255] * 8]))
    write_image(root / 'leftImg8bit' / 'val' / '1' / '000002_leftImg8bit.png', 6, 8)
    write_gray(root / 'gtFine' / 'val' / '1' / '000002_gtFine_labelcsTrainIds.png', np.full((6, 8), 10))
    write_image(root / 'leftImg8bit' / 'test' / '2' / '000003_leftImg8bit.png', 6, 8)
    return root


def test_idd_layout_resize_and_stats(tmp_path, capsys):
    raw, out = idd_raw(tmp_path / 'raw'), tmp_path / 'out'
    assert idd.main([str(raw), str(out), '--resize', '4', '3', '--nproc', '1']) == 0
    assert 'train: 1 images, 1 labels' in capsys.readouterr().out
    img = cv2.imread(str(out / 'leftImg8bit' / 'train' / '0' / '005506_leftImg8bit.png'), cv2.IMREAD_UNCHANGED)
    assert img.shape == (3, 4, 3)
    label = np.asarray(Image.open(out / 'gtFine' / 'train' / '0' / '005506_gtFine_labelTrainIds.png'))
    assert label.shape == (3, 4) and set(np.unique(label)) <= {0, 1, 13, 18, 255}
    assert (out / 'leftImg8bit' / 'test' / '2' / '000003_leftImg8bit.png').is_file()
    assert not (out / 'gtFine' / 'test').exists()
    stats = json.loads((out / 'sample_class_stats_dict.json').read_text())
    assert list(stats) == ['gtFine/train/0/005506_gtFine_labelTrainIds.png']
    assert no_temp_files(out)


def test_idd_keeps_size_maps_non_cityscapes_ids_to_ignore(tmp_path):
    raw, out = idd_raw(tmp_path / 'raw'), tmp_path / 'out'
    convert_idd(str(raw), str(out), nproc=1)
    label = np.asarray(Image.open(out / 'gtFine' / 'train' / '0' / '005506_gtFine_labelTrainIds.png'))
    assert label[:, 0].tolist() == [0, 1, 13, 18, 255, 255]
    assert (out / 'leftImg8bit' / 'val' / '1' / '000002_leftImg8bit.png').read_bytes() == (
        raw / 'leftImg8bit' / 'val' / '1' / '000002_leftImg8bit.png').read_bytes()


def test_idd_missing_label_and_same_root(tmp_path, capsys):
    raw = idd_raw(tmp_path / 'raw')
    (raw / 'gtFine' / 'val' / '1' / '000002_gtFine_labelcsTrainIds.png').unlink()
    assert_one_error(capsys, idd.main([str(raw), str(tmp_path / 'out')]),
                     raw / 'leftImg8bit' / 'val' / '1' / '000002_leftImg8bit.png', 'labelcsTrainIds')
    assert_one_error(capsys, idd.main([str(raw), str(raw)]), raw)


def acdc_frame(root, cond, split, seq, values, labelled=True):
    write_image(root / 'rgb_anon' / cond / split / seq / f'{seq}_frame_000001_rgb_anon.png', 2, 2)
    if labelled:
        write_gray(root / 'gt' / cond / split / seq / f'{seq}_frame_000001_gt_labelTrainIds.png', values)


def test_acdc_counts_and_train_stats(tmp_path, capsys):
    acdc_frame(tmp_path, 'fog', 'train', 'GOPR0475', [[0, 0], [13, 255]])
    acdc_frame(tmp_path, 'fog', 'val', 'GOPR0476', [[1, 1], [1, 1]])
    acdc_frame(tmp_path, 'night', 'train', 'GOPR0351', [[10, 10], [10, 2]])
    acdc_frame(tmp_path, 'night', 'test', 'GOPR0355', None, labelled=False)
    assert acdc.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for line in ('fog/train: 1 images, 1 labels', 'fog/val: 1 images, 1 labels',
                 'night/test: 1 images, no labels', 'night/train: 1 images, 1 labels'):
        assert line in out
    assert json.loads((tmp_path / 'sample_class_stats_dict.json').read_text()) == {
        'gt/fog/train/GOPR0475/GOPR0475_frame_000001_gt_labelTrainIds.png': {'0': 2, '13': 1},
        'gt/night/train/GOPR0351/GOPR0351_frame_000001_gt_labelTrainIds.png': {'2': 1, '10': 3},
    }


def test_acdc_missing_label_and_non_trainid_label(tmp_path, capsys):
    acdc_frame(tmp_path, 'rain', 'train', 'GOPR0400', [[0, 1], [2, 3]])
    acdc_frame(tmp_path, 'rain', 'train', 'GOPR0401', None, labelled=False)
    image = tmp_path / 'rgb_anon' / 'rain' / 'train' / 'GOPR0401' / 'GOPR0401_frame_000001_rgb_anon.png'
    assert_one_error(capsys, acdc.main([str(tmp_path)]), image, 'GOPR0401_frame_000001_gt_labelTrainIds.png')
    write_gray(tmp_path / 'gt' / 'rain' / 'train' / 'GOPR0401' / 'GOPR0401_frame_000001_gt_labelTrainIds.png',
               [[26, 7], [0, 0]])  # labelIds by mistake
    assert_one_error(capsys, acdc.main([str(tmp_path)]), 'GOPR0401_frame_000001_gt_labelTrainIds.png', '[26]')


def test_dark_zurich_release_layout(tmp_path, capsys):
    seq = tmp_path / 'rgb_anon' / 'val' / 'night' / 'GOPR0356'
    write_image(seq / 'GOPR0356_frame_000321_rgb_anon.png', 2, 2)
    write_gray(tmp_path / 'gt' / 'val' / 'night' / 'GOPR0356' / 'GOPR0356_frame_000321_gt_labelTrainIds.png',
               [[0, 1], [2, 255]])
    for cond in ('day', 'night', 'twilight'):
        write_image(tmp_path / 'rgb_anon' / 'train' / cond / 'GOPR0001' / 'GOPR0001_frame_000000_rgb_anon.png', 2, 2)
    assert dark_zurich.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'val/night: 1 images, 1 labels' in out and 'train/twilight: 1 images, no labels' in out
    assert 'statistics not written' in out and not (tmp_path / 'sample_class_stats.json').exists()
