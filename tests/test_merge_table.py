"""tools/merge_table.py: every subset of K = 3 tiny models evaluated on 3 tiny targets, resumable."""
import csv
import importlib.util
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from daseg.evaluation import evaluate_checkpoints
from daseg.merging.table import markdown, subsets, table_rows
from daseg.weights import load_checkpoint_file

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')
TARGETS = ['t1', 't2', 't3']
SEGMENTOR = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True),
    backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4, num_layers=[1, 1, 1, 1],
                  num_heads=[1, 1, 1, 1], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                  out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True),
    decode_head=dict(type='SegformerHead', in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3], channels=16,
                     num_classes=19, norm_cfg=dict(type='BN', requires_grad=True), align_corners=False),
    test_cfg=dict(mode='whole'))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _target(root, rng):
    for i in range(2):
        stem = f'city_{i:06d}_000019'
        for folder, suffix, array in (
                ('leftImg8bit', 'leftImg8bit', rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)),
                ('gtFine', 'gtFine_labelTrainIds', rng.integers(0, 19, (32, 64), dtype=np.uint8))):
            path = root / folder / 'val' / 'city' / f'{stem}_{suffix}.png'
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    return dict(type='CityscapesDataset', data_root=str(root), pipeline=pipeline,
                data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    tmp = tmp_path_factory.mktemp('table')
    rng = np.random.default_rng(0)
    cfg = Config(dict(default_scope='mmseg', model=SEGMENTOR,
                      eval_targets={name: _target(tmp / name, rng) for name in TARGETS}))
    cfg.dump(str(tmp / 'tiny.py'))
    states, paths = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        states.append(MODELS.build(cfg.model).state_dict())
        paths.append(str(tmp / f'model{seed}.pth'))
        torch.save({'state_dict': {f'model.{k}': v for k, v in states[-1].items()}}, paths[-1])
    return dict(tmp=tmp, config=str(tmp / 'tiny.py'), paths=paths, states=states)


class _Counting:
    """test.sh's evaluation (``daseg.evaluation.evaluate_checkpoints``) counted; it can be made to stop after a
    number of calls."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def __call__(self, cfg, model_cfg, checkpoints, device, *args, **kwargs):
        if self.stop_after is not None and len(self.calls) == self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(osp.basename(checkpoints[0]))
        return evaluate_checkpoints(cfg, model_cfg, checkpoints, device, *args, **kwargs)


def _run(setup, out, tool):
    script = _load('merge_table', osp.join(ROOT, 'tools', 'merge_table.py'))
    script.evaluate_checkpoints = tool
    return script.main([setup['config'], *setup['paths'], '--out', str(out), '--workers', '0', '--device', 'cpu'])


@pytest.fixture(scope='module')
def table(setup):
    """The table of the default rule in ``setup['tmp'] / 'out'``, made by a run interrupted after 3 evaluations
    and a rerun; the evaluations of each and the rows."""
    out = setup['tmp'] / 'out'
    interrupted = _Counting(stop_after=3)
    with pytest.raises(KeyboardInterrupt):
        _run(setup, out, interrupted)
    resumed = _Counting()
    rows = _run(setup, out, resumed)
    return dict(out=out, interrupted=interrupted.calls, resumed=resumed.calls, rows=rows)


def test_every_subset_once_and_a_rerun_evaluates_only_what_is_missing(setup, table):
    out, rows = table['out'], table['rows']
    assert table['interrupted'] == ['model0.pth', 'model1.pth', 'model2.pth']
    assert table['resumed'] == ['t1+t2.pth', 't1+t3.pth', 't2+t3.pth', 't1+t2+t3.pth']  # only the missing ones
    assert len(rows) == 2 ** 3 - 1 and [len(s) for s, _ in rows] == [1, 1, 1, 2, 2, 2, 3]
    again = _Counting()
    assert [entry for _, entry in _run(setup, out, again)] == [entry for _, entry in rows] and again.calls == []

    lines = (out / 'table.md').read_text().splitlines()
    assert lines[0] == '| models | t1 | t2 | t3 | t1 mIoU | t2 mIoU | t3 mIoU | mean | H |' and len(lines) == 2 + 7
    assert lines[-1].startswith('| 3 | x | x | x |')
    written = list(csv.reader(open(out / 'table.csv')))
    assert len(written) == 1 + 7 and written[4][:4] == ['2', 'x', 'x', '']
    assert (out / 'heatmap.png').stat().st_size > 0
    entry = rows[3][1]  # t1+t2
    assert float(written[4][4]) == pytest.approx(entry['targets']['t1']['mIoU'], abs=0.005)
    assert float(written[4][-2]) == pytest.approx(entry['mean']['mIoU'], abs=0.005)
    merged = load_checkpoint_file(str(out / 'checkpoints' / 't1+t2.pth'))['state_dict']
    key = 'decode_head.conv_seg.weight'
    torch.testing.assert_close(merged['model.' + key], (setup['states'][0][key] + setup['states'][1][key]) / 2)


def test_another_rule_or_recalibration_is_another_evaluation(setup, table):
    # A copy of the default rule's table, its 7 evaluations cached (3 + 4, as the test above checks).
    out = setup['tmp'] / 'out_rules'
    shutil.copytree(table['out'], out)
    assert len(list((out / 'cache').glob('*.json'))) == 7
    script = _load('merge_table', osp.join(ROOT, 'tools', 'merge_table.py'))
    mean = _Counting()
    script.evaluate_checkpoints = mean
    script.main([setup['config'], *setup['paths'], '--out', str(out), '--workers', '0', '--device', 'cpu',
                 '--buffers', 'mean'])
    assert len(mean.calls) == 4  # the singles are cached, the merges are not
    recalibrated = _Counting()
    script.evaluate_checkpoints = recalibrated
    script.main([setup['config'], *setup['paths'], '--out', str(out), '--workers', '0', '--device', 'cpu',
                 '--recalibrate-bn', str(setup['tmp'] / 't1' / 'leftImg8bit')])
    assert len(recalibrated.calls) == 4
    meta = load_checkpoint_file(str(out / 'checkpoints' / 't1+t3.pth'))['meta']['merge']
    assert meta['data_used']['folders'][0]['images'] == 2


def test_table_rows_and_markdown_by_hand():
    assert subsets(3) == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    entry = {'targets': {'a': {'mIoU': 10.0}, 'b': {'mIoU': 30.0}}, 'mean': {'mIoU': 20.0},
             'harmonic_mean': {'mIoU': 15.0}}
    better = {'targets': {'a': {'mIoU': 20.0}, 'b': {'mIoU': float('nan')}}, 'mean': {'mIoU': float('nan')},
              'harmonic_mean': {'mIoU': float('nan')}}
    header, rows = table_rows(['m', 'n'], ['a', 'b'], [((0,), entry), ((0, 1), better)])
    assert header == ['models', 'm', 'n', 'a mIoU', 'b mIoU', 'mean', 'H']
    assert markdown(header, rows, 2).splitlines()[2:] == ['| 1 | x |  | 10.00 | **30.00** | **20.00** | **15.00** |',
                                                          '| 2 | x | x | **20.00** | - | - | - |']
