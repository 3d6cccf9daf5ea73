"""DACS with an HRDA student: pseudo-label margins of the full target image, pseudo-labels from the teacher's
multi-resolution inference, the feature distance on context features and the HRDA losses on mixed images."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

import daseg.models.uda.components.source as source_module
from daseg.datasets.pseudo_margins import check_margins, margin_mask
from daseg.errors import UserError
from daseg.models.uda import DACS, DomainBatch, UDAStep
from hrda_models import SEGMENTOR, tiny_hrda_cfg

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

HEIGHT, WIDTH = 64, 96


@pytest.fixture(autouse=True, scope='module')
def mmseg_scope():
    init_default_scope('mmseg')


def samples(n=2, labels=None, valid=None):
    out = []
    for i in range(n):
        sample = SegDataSample(metainfo=dict(ori_shape=(HEIGHT, WIDTH), img_shape=(HEIGHT, WIDTH),
                                             pad_shape=(HEIGHT, WIDTH)))
        if labels is not None:
            sample.gt_sem_seg = PixelData(data=labels[i:i + 1])
        if valid is not None:
            sample.set_metainfo(dict(valid_pseudo_mask=valid))
        out.append(sample)
    return out


def test_margins_zero_the_border_of_the_mask():
    expected = np.array([[0, 0, 0, 0, 0, 0, 0, 0],
                         [0, 1, 1, 1, 1, 0, 0, 0],
                         [0, 1, 1, 1, 1, 0, 0, 0],
                         [0, 1, 1, 1, 1, 0, 0, 0],
                         [0, 0, 0, 0, 0, 0, 0, 0],
                         [0, 0, 0, 0, 0, 0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(margin_mask(6, 8, [1, 2, 1, 3]), expected)
    assert margin_mask(6, 8, (0, 0, 0, 0)).all()
    assert not margin_mask(6, 8, [4, 4, 0, 0]).any()
    for bad in ([30, 240, 30], [30, -1, 30, 30], 'top'):
        with pytest.raises(UserError, match='crop_pseudo_margins must be 4 non-negative ints'):
            check_margins(bad)
    with pytest.raises(UserError, match='crop_pseudo_margins'):
        TRANSFORMS.build(dict(type='PseudoMarginMask', margins=[30, 240]))


def test_margins_belong_to_the_full_image_and_follow_the_crop():
    """HRDA's margins [30, 240, 30, 30] of a 1024x2048 Cityscapes image under random 1024x1024 crops: each crop's
    mask is the full-image mask at the crop's offset (read back from pixels that encode their column), and the
    masked share averages 26.4 %, not the 30.7 % of margins applied to every crop's borders."""
    height, width, crop, margins = 1024, 2048, 1024, (30, 240, 30, 30)
    columns = np.arange(width)
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 0], img[..., 1] = columns % 256, columns // 256
    pipeline = [TRANSFORMS.build(dict(type='PseudoMarginMask', margins=list(margins))),
                TRANSFORMS.build(dict(type='RandomCrop', crop_size=(crop, crop))),
                TRANSFORMS.build(dict(type='PackUDATargetInputs'))]
    np.random.seed(0)
    shares = []
    for _ in range(60):
        results = dict(img=img, img_shape=(height, width), ori_shape=(height, width))
        for transform in pipeline:
            results = transform(results)
        sample = results['data_samples']
        mask = sample.valid_pseudo_mask
        x0 = int(results['inputs'][1, 0, 0]) * 256 + int(results['inputs'][0, 0, 0])  # the crop's first column
        valid_cols = np.clip(np.arange(x0, x0 + crop), margins[2], width - margins[3] - 1)
        expected = np.zeros((crop, crop), np.uint8)
        expected[margins[0]:height - margins[1]] = (valid_cols == np.arange(x0, x0 + crop))[None]
        np.testing.assert_array_equal(mask, expected)
        shares.append(1 - mask.mean())
    # Independent closed form over every crop offset x in 0..1024 (uniform as mmseg's RandomCrop draws it).
    offsets = np.arange(width - crop + 1)
    cols = np.minimum(offsets + crop, width - margins[3]) - np.maximum(offsets, margins[2])
    rows = height - margins[0] - margins[1]
    expected_share = 1 - (rows * cols / crop ** 2).mean()
    assert expected_share == pytest.approx(0.264, abs=5e-4)
    assert np.mean(shares) == pytest.approx(expected_share, abs=2e-3)
    per_crop_borders = 1 - (crop - 270) * (crop - 60) / crop ** 2
    assert per_crop_borders == pytest.approx(0.307, abs=5e-4) and np.mean(shares) < per_crop_borders - 0.03


@pytest.fixture(scope='module')
def uda():
    torch.manual_seed(0)
    model = DACS(model=tiny_hrda_cfg(), pseudo_threshold=0.0)
    model.train()
    model.teachers['ema_model'].update(model.ema_model, model.model, 0)
    return model


def test_pseudo_labels_are_the_teachers_multires_prediction_with_margins(uda, monkeypatch):
    image = torch.randn(2, 3, HEIGHT, WIDTH)
    batches = []
    extract = uda.ema_model.extract_unscaled_feat
    monkeypatch.setattr(uda.ema_model, 'extract_unscaled_feat', lambda x: batches.append(x.shape) or extract(x))
    valid = margin_mask(HEIGHT, WIDTH, [8, 16, 8, 8])
    label, weight = uda.teachers['ema_model'].pseudo_labels(uda.ema_model, image, samples(valid=valid))
    # The context image, then all 3 x 5 overlapping 32x32 detail windows of both images in one batch.
    assert batches == [(2, 3, 32, 48), (30, 3, 32, 32)]
    monkeypatch.undo()
    with torch.no_grad():
        predicted = torch.stack([s.pred_sem_seg.data[0] for s in uda.ema_model.predict(image, samples())])
    assert torch.equal(label, predicted)
    # Threshold 0: every pixel is confident, so the weight is 1 except in the margins [8, 16, 8, 8].
    expected = torch.zeros(2, HEIGHT, WIDTH)
    expected[:, 8:HEIGHT - 16, 8:WIDTH - 8] = 1
    torch.testing.assert_close(weight, expected)


def test_mixed_loss_is_the_pixel_weighted_hrda_loss(uda):
    image, label = torch.randn(2, 3, HEIGHT, WIDTH), torch.randint(0, 19, (2, HEIGHT, WIDTH))
    losses = uda.model.loss_by_label(image, label, torch.ones(2, HEIGHT, WIDTH))[0]
    assert {'decode.loss_ce', 'decode.hr.loss_ce'} <= set(losses)
    assert losses['decode.loss_ce'] > 0 and losses['decode.hr.loss_ce'] > 0
    zero = uda.model.loss_by_label(image, label, torch.zeros(2, HEIGHT, WIDTH))[0]
    assert zero['decode.loss_ce'] == 0 and zero['decode.hr.loss_ce'] == 0


def test_feature_distance_compares_context_features(monkeypatch):
    # A pretrained file is only read by init_weights, which this test never calls.
    cfg = tiny_hrda_cfg(backbone=dict(SEGMENTOR['backbone'], pretrained='pretrained/mit_b0.pth'))
    uda = DACS(model=cfg, imnet_feature_dist_lambda=0.005)
    seen = {}

    def record(f_student, f_imnet, gt, **kwargs):
        seen.update(student=tuple(f_student.shape), imnet=tuple(f_imnet.shape), gt=tuple(gt.shape))
        return f_student.sum() * 0

    monkeypatch.setattr(source_module, 'thing_class_fd_loss', record)
    labels = torch.randint(0, 19, (2, HEIGHT, WIDTH))
    source = DomainBatch(torch.randn(2, 3, HEIGHT, WIDTH), samples(labels=labels), labels)
    step = UDAStep(0, torch.Generator(), source, DomainBatch(torch.randn(2, 3, HEIGHT, WIDTH), samples()))
    losses = uda.src.loss(uda, step)
    # Stage 4 (stride 32) of the half-resolution 32x48 context image, for both models; labels at full size.
    assert seen == dict(student=(2, 256, 1, 2), imnet=(2, 256, 1, 2), gt=(2, HEIGHT, WIDTH))
    assert {'decode.loss_ce', 'decode.hr.loss_ce', 'fd.loss'} <= set(losses)
