"""DACS with an HRDA student: pseudo-label margins, pseudo-labels from the teacher's multi-resolution inference,
the feature distance on context features and the HRDA losses on mixed images."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import daseg.models.uda.dacs as dacs_module
from daseg.errors import UserError
from daseg.models.uda import DACS
from daseg.models.uda.pseudo_margins import check_margins, ignore_margins
from hrda_models import SEGMENTOR, tiny_hrda_cfg

HEIGHT, WIDTH = 64, 96


@pytest.fixture(autouse=True, scope='module')
def mmseg_scope():
    init_default_scope('mmseg')


def samples(n=2, labels=None):
    out = []
    for i in range(n):
        sample = SegDataSample(metainfo=dict(ori_shape=(HEIGHT, WIDTH), img_shape=(HEIGHT, WIDTH),
                                             pad_shape=(HEIGHT, WIDTH)))
        if labels is not None:
            sample.gt_sem_seg = PixelData(data=labels[i:i + 1])
        out.append(sample)
    return out


def test_margins_zero_the_border_of_the_weight():
    weight = torch.full((1, 6, 8), 0.5)
    expected = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 0],
                             [0, 1, 1, 1, 1, 0, 0, 0],
                             [0, 1, 1, 1, 1, 0, 0, 0],
                             [0, 1, 1, 1, 1, 0, 0, 0],
                             [0, 0, 0, 0, 0, 0, 0, 0],
                             [0, 0, 0, 0, 0, 0, 0, 0]], dtype=torch.float32) * 0.5
    torch.testing.assert_close(ignore_margins(weight, [1, 2, 1, 3]), expected[None])
    torch.testing.assert_close(ignore_margins(weight, (0, 0, 0, 0)), weight)
    assert ignore_margins(weight, [4, 4, 0, 0]).eq(0).all()
    for bad in ([30, 240, 30], [30, -1, 30, 30], 'top'):
        with pytest.raises(UserError, match='crop_pseudo_margins must be 4 non-negative ints'):
            check_margins(bad)


@pytest.fixture(scope='module')
def uda():
    torch.manual_seed(0)
    model = DACS(model=tiny_hrda_cfg(), pseudo_threshold=0.0, crop_pseudo_margins=[8, 16, 8, 8])
    model.train()
    model.update_teacher(0)
    return model


def test_pseudo_labels_are_the_teachers_multires_prediction_with_margins(uda, monkeypatch):
    assert uda.multires
    image = torch.randn(2, 3, HEIGHT, WIDTH)
    batches = []
    extract = uda.ema_model.extract_unscaled_feat
    monkeypatch.setattr(uda.ema_model, 'extract_unscaled_feat', lambda x: batches.append(x.shape) or extract(x))
    label, weight = uda.pseudo_labels(image, samples())
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
    losses = uda.mixed_losses(image, label, torch.ones(2, HEIGHT, WIDTH))
    assert {'decode.loss_ce', 'decode.hr.loss_ce'} <= set(losses)
    assert losses['decode.loss_ce'] > 0 and losses['decode.hr.loss_ce'] > 0
    zero = uda.mixed_losses(image, label, torch.zeros(2, HEIGHT, WIDTH))
    assert zero['decode.loss_ce'] == 0 and zero['decode.hr.loss_ce'] == 0


def test_feature_distance_compares_context_features(monkeypatch):
    # A pretrained file is only read by init_weights, which this test never calls.
    cfg = tiny_hrda_cfg(backbone=dict(SEGMENTOR['backbone'], pretrained='pretrained/mit_b0.pth'))
    uda = DACS(model=cfg, imnet_feature_dist_lambda=0.005)
    seen = {}

    def record(f_student, f_imnet, gt, **kwargs):
        seen.update(student=tuple(f_student.shape), imnet=tuple(f_imnet.shape), gt=tuple(gt.shape))
        return f_student.sum() * 0

    monkeypatch.setattr(dacs_module, 'thing_class_fd_loss', record)
    labels = torch.randint(0, 19, (2, HEIGHT, WIDTH))
    losses = uda.source_losses(torch.randn(2, 3, HEIGHT, WIDTH), samples(labels=labels))
    # Stage 4 (stride 32) of the half-resolution 32x48 context image, for both models; labels at full size.
    assert seen == dict(student=(2, 256, 1, 2), imnet=(2, 256, 1, 2), gt=(2, HEIGHT, WIDTH))
    assert {'decode.loss_ce', 'decode.hr.loss_ce', 'fd.loss'} <= set(losses)


def test_margins_are_checked_when_building():
    with pytest.raises(UserError, match='crop_pseudo_margins'):
        DACS(model=tiny_hrda_cfg(), crop_pseudo_margins=[30, 240])
