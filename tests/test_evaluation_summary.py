"""Multi-target summaries, the 16-class mIoU, report writers and colourised predictions."""
import csv
import json
import math

import numpy as np
import pytest
from PIL import Image

from daseg.classes import CLASSES, PALETTE
from daseg.evaluation import (arithmetic_mean, colorize, comparison_image, format_console, harmonic_mean,
                              output_names, summarize_targets, target_result, write_reports)


def test_means_against_hand_values():
    assert arithmetic_mean([60.0, 40.0]) == pytest.approx(50.0)
    assert harmonic_mean([60.0, 40.0]) == pytest.approx(48.0)  # 2 / (1/60 + 1/40)
    # The merging paper's MiT-B5 row: C 67.0, I 55.6 -> H 60.8.
    assert round(harmonic_mean([67.0, 55.6]), 1) == 60.8
    assert harmonic_mean([50.0, 0.0]) == 0.0
    assert math.isnan(harmonic_mean([50.0, float('nan')]))
    assert math.isnan(harmonic_mean([]))


def _matrix_with_missing_synthia_classes():
    """Every class predicted right, except terrain -> truck -> train -> terrain (IoU 0 for those three)."""
    matrix = np.eye(19, dtype=np.int64)
    for gt, pred in ((9, 14), (14, 16), (16, 9)):
        matrix[gt, gt], matrix[gt, pred] = 0, 1
    return matrix


def test_16_class_miou_leaves_out_terrain_truck_train():
    result = target_result(_matrix_with_missing_synthia_classes(), CLASSES, classes16=True)
    assert result['IoU']['terrain'] == result['IoU']['truck'] == result['IoU']['train'] == 0
    assert result['mIoU'] == pytest.approx(16 / 19 * 100)
    assert result['mIoU16'] == pytest.approx(100.0)
    assert 'mIoU16' not in target_result(np.eye(19, dtype=np.int64), CLASSES)


def _results():
    perfect = target_result(np.eye(19, dtype=np.int64) * 5, CLASSES, num_images=2)
    half = np.eye(19, dtype=np.int64)
    half[0, 1] = 1  # road: IoU 1/2, sidewalk: 1/2
    targets = {'cityscapes': perfect, 'idd': target_result(half, CLASSES, num_images=1)}
    entry = {'checkpoint': 'work/run/iter_8.pth', 'label': 'run/iter_8.pth', 'meta': {}, 'targets': targets}
    entry.update(summarize_targets(targets))
    return {'config': 'c.py', 'which': 'student', 'unit': 'percent', 'classes': list(CLASSES),
            'targets': ['cityscapes', 'idd'], 'checkpoints': [entry]}


def test_summary_and_reports(tmp_path):
    results = _results()
    entry = results['checkpoints'][0]
    idd_miou = (17 + 0.5 + 0.5) / 19 * 100
    assert entry['targets']['idd']['mIoU'] == pytest.approx(idd_miou)
    assert entry['mean']['mIoU'] == pytest.approx((100 + idd_miou) / 2)
    assert entry['harmonic_mean']['mIoU'] == pytest.approx(2 / (1 / 100 + 1 / idd_miou))

    text = format_console(results)
    summary_line = next(line for line in text.splitlines() if line.startswith('run/iter_8.pth'))
    assert summary_line.split() == ['run/iter_8.pth', '100.00', f'{idd_miou:.2f}',
                                    f'{(100 + idd_miou) / 2:.2f}', f'{2 / (1 / 100 + 1 / idd_miou):.2f}']
    assert 'cityscapes' in text and 'mean' in text and ' H' in text

    paths = write_reports(results, str(tmp_path))
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved['checkpoints'][0]['targets']['idd']['confusion_matrix'][0][:2] == [1, 1]
    assert saved['checkpoints'][0]['harmonic_mean']['mIoU'] == pytest.approx(entry['harmonic_mean']['mIoU'])
    rows = list(csv.DictReader((tmp_path / 'results.csv').open()))
    assert [r['target'] for r in rows] == ['cityscapes', 'idd']
    assert float(rows[1]['road']) == pytest.approx(50.0) and float(rows[1]['mIoU']) == pytest.approx(idd_miou)
    markdown = (tmp_path / 'results.md').read_text()
    assert '| checkpoint | cityscapes | idd | mean | H |' in markdown
    comparison = list(csv.DictReader((tmp_path / 'comparison.csv').open()))
    assert float(comparison[0]['mIoU:idd']) == pytest.approx(idd_miou)
    assert float(comparison[0]['mIoU:H']) == pytest.approx(2 / (1 / 100 + 1 / idd_miou))
    assert '| run/iter_8.pth | 100.00 |' in (tmp_path / 'comparison.md').read_text()
    with Image.open(tmp_path / 'comparison.png') as chart:
        assert chart.format == 'PNG' and chart.width > 300
    assert len(paths) == 6 and not list(tmp_path.glob('.*part'))


def test_undefined_values_are_null_in_json_and_dash_in_tables(tmp_path):
    results = _results()
    matrix = np.eye(19, dtype=np.int64)
    matrix[18, 18] = 0  # bicycle absent from ground truth and prediction
    results['checkpoints'][0]['targets']['idd'] = target_result(matrix, CLASSES, num_images=1)
    write_reports(results, str(tmp_path))
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved['checkpoints'][0]['targets']['idd']['IoU']['bicycle'] is None
    bicycle_line = next(line for line in format_console(results).splitlines() if line.startswith('bicycle'))
    assert bicycle_line.split() == ['bicycle', '100.00', '-']


def test_colorize_and_comparison_image():
    label = np.array([[0, 18], [255, 200]])
    colours = colorize(label)
    assert tuple(colours[0, 0]) == PALETTE[0] and tuple(colours[0, 1]) == PALETTE[18]
    assert tuple(colours[1, 0]) == (0, 0, 0) and tuple(colours[1, 1]) == (0, 0, 0)
    image = np.full((4, 6, 3), 7, dtype=np.uint8)
    canvas = comparison_image(image, np.zeros((2, 3), np.int64), np.ones((2, 3), np.int64))
    assert canvas.shape == (2, 9, 3)  # the image is resized to the label
    assert tuple(canvas[0, 3]) == PALETTE[0] and tuple(canvas[0, 6]) == PALETTE[1]


def test_output_names_disambiguate_repeated_stems():
    assert output_names(['a/x_1.png', 'b/x_2.png']) == {'a/x_1.png': 'x_1.png', 'b/x_2.png': 'x_2.png'}
    assert output_names(['s1/000.png', 's2/000.png']) == {'s1/000.png': 's1_000.png', 's2/000.png': 's2_000.png'}
