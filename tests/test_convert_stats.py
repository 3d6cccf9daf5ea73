"""Rare-class-sampling statistics: hand-counted pixels on tiny labels, and the three files agree."""
import json

import numpy as np
import pytest
from PIL import Image

from daseg.datasets.convert.gta import convert_gta
from daseg.errors import UserError

A, B, C = ('labels/a_labelTrainIds.png', 'labels/b_labelTrainIds.png', 'labels/c_labelTrainIds.png')


def gta_labels(root):
    """Three GTA labels (labelIds) with hand-countable content."""
    (root / 'labels').mkdir(parents=True)
    labels = {
        # trainIds [[0, 0, 13], [255, 13, 11]] -> road 2, person 1, car 2
        'a': [[7, 7, 26], [0, 26, 24]],
        # trainIds [[1, 1, 1], [0, 255, 255]] -> road 1, sidewalk 3
        'b': [[8, 8, 8], [7, 1, 3]],
        # nothing but ignored pixels
        'c': [[0, 0, 0], [1, 2, 3]],
    }
    for stem, ids in labels.items():
        Image.fromarray(np.array(ids, np.uint8), 'L').save(root / 'labels' / f'{stem}.png')
    return root


def read(root, name):
    return json.loads((root / name).read_text())


def test_counts_by_hand(tmp_path):
    root = gta_labels(tmp_path)
    convert_gta(str(root), nproc=1)
    assert read(root, 'sample_class_stats.json') == [
        {'file': A, '0': 2, '11': 1, '13': 2},
        {'file': B, '0': 1, '1': 3},
        {'file': C},
    ]
    assert read(root, 'sample_class_stats_dict.json') == {
        A: {'0': 2, '11': 1, '13': 2},
        B: {'0': 1, '1': 3},
        C: {},
    }
    with_class = read(root, 'samples_with_class.json')
    assert with_class == {'0': [[A, 2], [B, 1]], '1': [[B, 3]], '11': [[A, 1]], '13': [[A, 2]]}
    assert list(with_class) == ['0', '1', '11', '13']  # numeric order


def test_files_agree_and_match_dataset_paths(tmp_path):
    root = gta_labels(tmp_path)
    convert_gta(str(root), nproc=1)
    entries = read(root, 'sample_class_stats.json')
    per_file = read(root, 'sample_class_stats_dict.json')
    with_class = read(root, 'samples_with_class.json')
    assert {e['file']: {k: v for k, v in e.items() if k != 'file'} for e in entries} == per_file
    from_with_class = {(f, c, n) for c, rows in with_class.items() for f, n in rows}
    from_per_file = {(f, c, n) for f, counts in per_file.items() for c, n in counts.items()}
    assert from_with_class == from_per_file
    assert all(n > 0 for _, _, n in from_with_class)
    for file in per_file:  # the label a dataset with data_root=root reads
        assert (root / file).is_file()


def test_split_file_limits_the_statistics_not_the_conversion(tmp_path):
    root = gta_labels(tmp_path)
    (root / 'train.txt').write_text('b\n')
    convert_gta(str(root), nproc=1, split_file='train.txt')
    assert read(root, 'sample_class_stats_dict.json') == {B: {'0': 1, '1': 3}}
    assert all((root / f).is_file() for f in (A, B, C))

    (root / 'bad.txt').write_text('b\nzzz\n')
    with pytest.raises(UserError, match="lists 'zzz'"):
        convert_gta(str(root), nproc=1, split_file='bad.txt')
