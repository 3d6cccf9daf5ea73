"""test.sh's evaluation end to end: a tiny MiT + SegFormer segmentor on two tiny Cityscapes-layout targets."""
import csv
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from daseg.classes import CLASSES, PALETTE
from daseg.cli import segmentor_config
from daseg.errors import UserError
from daseg.evaluation import is_labelled
from evaluation_command import run_evaluation

WIDTH, HEIGHT = 64, 32

SEGMENTOR = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
    backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4, num_layers=[1, 1, 1, 1],
                  num_heads=[1, 1, 1, 1], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                  out_indices=(0, 1, 2, 3), mlp_ratio=4, qkv_bias=True),
    decode_head=dict(type='SegformerHead', in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3], channels=16,
                     num_classes=19, norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))


def _make_target(root, city, count, rng, widths=(WIDTH,)):
    """``count`` images in Cityscapes layout, their widths taken in turn from ``widths``; returns {image stem:
    label file}."""
    labels = {}
    for i in range(count):
        name = f'{city}_{i:06d}_000019'
        width = widths[i % len(widths)]
        image = root / 'leftImg8bit' / 'val' / city / f'{name}_leftImg8bit.png'
        label = root / 'gtFine' / 'val' / city / f'{name}_gtFine_labelTrainIds.png'
        image.parent.mkdir(parents=True, exist_ok=True)
        label.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (HEIGHT, width, 3), dtype=np.uint8)).save(image)
        trainids = rng.integers(0, 19, (HEIGHT, width), dtype=np.uint8)
        trainids[rng.random((HEIGHT, width)) < 0.1] = 255
        Image.fromarray(trainids).save(label)
        labels[f'{name}_leftImg8bit'] = str(label)
    return labels


def _dataset(root):
    # The network sees a 2x upscaled image; predictions must come back at the label's 64x32.
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2 * WIDTH, 2 * HEIGHT), keep_ratio=True),
                dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    return dict(type='CityscapesDataset', data_root=str(root), pipeline=pipeline,
                data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'))


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    tmp = tmp_path_factory.mktemp('e2e')
    rng = np.random.default_rng(0)
    labels = {'cs_a': _make_target(tmp / 'a', 'aachen', 3, rng), 'cs_b': _make_target(tmp / 'b', 'bremen', 2, rng)}
    cfg = Config(dict(default_scope='mmseg', model=SEGMENTOR, eval_classes16=True,
                      eval_targets=dict(cs_a=_dataset(tmp / 'a'), cs_b=_dataset(tmp / 'b'))))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    work_dir = tmp / 'work'
    work_dir.mkdir()
    cfg.dump(str(work_dir / 'tiny.py'))
    checkpoint = work_dir / 'iter_4.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 4, 'seed': 0}}, str(checkpoint))
    (work_dir / 'last_checkpoint').write_text(str(checkpoint))
    return dict(tmp=tmp, work_dir=work_dir, checkpoint=checkpoint, model=model, labels=labels)


def _decode(colours):
    lookup = {colour: index for index, colour in enumerate(PALETTE)}
    return np.array([[lookup[tuple(c)] for c in row] for row in colours])


def _mmseg_miou(pairs):
    from mmseg.evaluation.metrics import IoUMetric
    metric = IoUMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    for pred, gt in pairs:
        sample = dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]),
                      gt_sem_seg=dict(data=torch.from_numpy(gt.astype(np.int64))[None]))
        metric.process({}, [sample])
    return metric.compute_metrics(metric.results)['mIoU']


def test_work_dir_two_targets_and_show_dir(setup, capsys):
    show = setup['tmp'] / 'show'
    results, out_dir = run_evaluation(str(setup['work_dir']), targets=['cs_b', 'cs_a'], show_dir=str(show), workers=0,
                                      device='cpu')
    assert osp.dirname(out_dir) == str(setup['work_dir']) and osp.basename(out_dir).startswith('eval_')
    saved = json.load(open(osp.join(out_dir, 'results.json')))
    assert saved['targets'] == ['cs_b', 'cs_a']
    entry = saved['checkpoints'][0]
    assert entry['checkpoint'] == str(setup['checkpoint']) and entry['meta'] == {'iter': 4, 'seed': 0}
    for name in ('results.csv', 'results.md', 'comparison.csv', 'comparison.md', 'comparison.png'):
        assert osp.isfile(osp.join(out_dir, name)), name

    mious = []
    for target, labels in setup['labels'].items():
        pairs = []
        for stem, label_file in labels.items():
            canvas = np.asarray(Image.open(show / target / f'{stem}.png').convert('RGB'))
            assert canvas.shape == (HEIGHT, 3 * WIDTH, 3)
            gt = np.asarray(Image.open(label_file))
            # The middle third is the label at its own resolution; the right third the prediction.
            gt_colours = np.where((gt == 255)[..., None], 0, np.array(PALETTE, np.uint8)[np.minimum(gt, 18)])
            np.testing.assert_array_equal(canvas[:, WIDTH:2 * WIDTH], gt_colours)
            pairs.append((_decode(canvas[:, 2 * WIDTH:]), gt))
        miou = entry['targets'][target]['mIoU']
        assert round(miou, 2) == pytest.approx(_mmseg_miou(pairs))
        assert entry['targets'][target]['num_images'] == len(labels)
        mious.append(miou)
    assert entry['mean']['mIoU'] == pytest.approx(sum(mious) / 2)
    assert entry['harmonic_mean']['mIoU'] == pytest.approx(2 / (1 / mious[0] + 1 / mious[1]))
    assert 'mIoU16' in entry['targets']['cs_a'] and 'mIoU16' in entry['mean']

    console = capsys.readouterr().out
    header = next(line for line in console.splitlines() if line.startswith('checkpoint'))
    assert header.split() == ['checkpoint', 'cs_b', 'cs_a', 'mean', 'H']
    summary = next(line for line in console.splitlines() if line.startswith('work/iter_4.pth'))
    assert summary.split()[-1] == f"{entry['harmonic_mean']['mIoU']:.2f}"


def test_several_checkpoints_from_a_config(setup):
    uda = setup['tmp'] / 'uda.pth'
    state = setup['model'].state_dict()
    # Teacher = student + 1: a different model, so --which must pick the prefix it names.
    torch.save({'state_dict': {**{f'model.{k}': v for k, v in state.items()},
                               **{f'ema_model.{k}': v + 1 if v.is_floating_point() else v
                                  for k, v in state.items()}}}, str(uda))
    config = str(setup['work_dir'] / 'tiny.py')
    out = setup['tmp'] / 'out'
    results, out_dir = run_evaluation(config, str(setup['checkpoint']), str(uda), out=str(out), workers=0,
                                      device='cpu')
    assert out_dir == str(out)
    plain, student = results['checkpoints']
    assert plain['targets']['cs_a']['confusion_matrix'] == student['targets']['cs_a']['confusion_matrix']
    rows = list(csv.DictReader(open(out / 'results.csv')))
    assert [(osp.basename(r['checkpoint']), r['target']) for r in rows] == [
        ('iter_4.pth', 'cs_a'), ('iter_4.pth', 'cs_b'), ('uda.pth', 'cs_a'), ('uda.pth', 'cs_b')]
    with pytest.raises(UserError, match='--out .* already exists'):
        run_evaluation(config, str(uda), out=str(out), device='cpu')


def test_batches_of_mixed_sizes_match_one_image_at_a_time(setup, tmp_path):
    # Widths 64 and 48 resize to 128x64 and 96x64: batches of 3 mix both sizes, and come in groups of one size.
    labels = _make_target(tmp_path / 'mixed', 'koeln', 5, np.random.default_rng(1), widths=(WIDTH, 48))
    cfg = Config(dict(default_scope='mmseg', model=SEGMENTOR, eval_targets=dict(mixed=_dataset(tmp_path / 'mixed'))))
    config = str(tmp_path / 'mixed.py')
    cfg.dump(config)
    matrices = []
    for batch_size in (1, 3):
        results, _ = run_evaluation(config, str(setup['checkpoint']), out=str(tmp_path / f'b{batch_size}'),
                                    workers=0, device='cpu', batch_size=batch_size)
        entry = results['checkpoints'][0]['targets']['mixed']
        assert entry['num_images'] == len(labels)
        matrices.append(np.array(entry['confusion_matrix']))
    labelled = sum((np.asarray(Image.open(f)) != 255).sum() for f in labels.values())
    assert matrices[0].sum() == matrices[1].sum() == labelled
    # Equal up to floating-point rounding of the batched convolutions (a pixel whose top two logits tie);
    # a sample paired with another image's label would differ in about 95 % of its pixels.
    assert np.abs(matrices[0] - matrices[1]).sum() <= 2 * 0.001 * labelled
    with pytest.raises(UserError, match='--batch-size must be 1 or more, got 0'):
        run_evaluation(config, str(setup['checkpoint']), device='cpu', batch_size=0)


def test_user_errors(setup):
    work_dir = str(setup['work_dir'])
    with pytest.raises(UserError, match='unknown target idd; available: cs_a, cs_b'):
        run_evaluation(work_dir, targets=['idd'], device='cpu')
    with pytest.raises(UserError, match='unknown config key: model.decode_head.num_clases'):
        run_evaluation(work_dir, cfg_options=['model.decode_head.num_clases=16'], device='cpu')
    with pytest.raises(UserError, match='the model predicts 16 classes, the targets have 19'):
        run_evaluation(work_dir, cfg_options=['model.decode_head.num_classes=16'], device='cpu')
    # Swapping the types leaves Resize's keys on LoadAnnotations: the config check names the first one.
    with pytest.raises(UserError, match=r"unknown config key 'keep_ratio' in eval_targets.cs_a.pipeline\[1\] "
                                        r'\(LoadAnnotations\)'):
        run_evaluation(work_dir, device='cpu', cfg_options=['eval_targets.cs_a.pipeline.1.type=LoadAnnotations',
                                                            'eval_targets.cs_a.pipeline.2.type=Resize'])
    with pytest.raises(UserError, match='pipeline resizes after LoadAnnotations'):
        is_labelled('cs_a', [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                             dict(type='Resize', scale=(8, 8))])
    assert not is_labelled('cs_a', [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])


def test_uda_wrapper_config_evaluates_the_inner_segmentor():
    segmentor = {k: v for k, v in SEGMENTOR.items() if k != 'data_preprocessor'}
    cfg = Config(dict(model=dict(type='DACS', model=segmentor, data_preprocessor=SEGMENTOR['data_preprocessor'])))
    inner = segmentor_config(cfg)
    assert inner['type'] == 'EncoderDecoder'
    assert inner['data_preprocessor'] == SEGMENTOR['data_preprocessor']
