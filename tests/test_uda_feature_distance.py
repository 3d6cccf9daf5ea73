"""Feature distance: block-majority label downscaling, masked L2 distance, gradients only at thing classes."""
from types import SimpleNamespace

import pytest
import torch

from daseg.models.uda.components.source import SourceSupervision
from daseg.models.uda import downscale_label_ratio, feature_distance, thing_class_fd_loss


def test_downscale_label_ratio_by_hand():
    gt = torch.tensor([[[[1, 1, 2, 2, 4, 4],
                         [1, 1, 2, 3, 5, 6],
                         [255, 255, 7, 7, 8, 8],
                         [255, 7, 7, 255, 255, 255]]]])
    # Blocks (2x2): all 1 -> 1; 2 at 3/4 -> 2 (the ratio is inclusive); 4 at 2/4 -> ignore;
    # ignore at 3/4 -> ignore; 7 at 3/4 beside an ignored pixel -> 7; 8 and ignore tied at 2/4 -> ignore.
    expected = torch.tensor([[[[1, 2, 255], [255, 7, 255]]]])
    out = downscale_label_ratio(gt, 0.5, min_ratio=0.75, n_classes=19)
    assert out.dtype == torch.long
    assert torch.equal(out, expected)
    with pytest.raises(ValueError, match='scale_factor'):
        downscale_label_ratio(gt, 0.3)


def test_feature_distance_is_the_masked_mean_l2_norm():
    f_imnet = torch.zeros(1, 3, 2, 2)
    f_student = torch.zeros(1, 3, 2, 2)
    f_student[0, :, 0, 0] = torch.tensor([3., 4., 0.])   # 5
    f_student[0, :, 1, 0] = torch.tensor([1., 0., 0.])   # 1
    f_student[0, :, 1, 1] = torch.tensor([0., 2., 0.])   # 2
    assert feature_distance(f_student, f_imnet).item() == pytest.approx(2.0)
    mask = torch.tensor([[[True, False], [False, True]]])
    assert feature_distance(f_student, f_imnet, mask).item() == pytest.approx(3.5)
    assert feature_distance(f_student, f_imnet, torch.zeros_like(mask)).item() == 0


def test_fd_loss_pulls_only_thing_class_features():
    # 4x4 labels on 2x2 features: car (13), road (0), person (11), and a car/person block below the ratio.
    gt = torch.tensor([[[13, 13, 0, 0],
                        [13, 13, 0, 0],
                        [11, 11, 13, 11],
                        [11, 255, 13, 11]]])
    f_student = torch.randn(1, 8, 2, 2, requires_grad=True)
    f_imnet = torch.randn(1, 8, 2, 2, requires_grad=True)
    loss = thing_class_fd_loss(f_student, f_imnet, gt, lambda_fd=0.005, min_ratio=0.75)
    norms = (f_student - f_imnet).norm(dim=1)[0]
    assert loss.item() == pytest.approx(0.005 * (norms[0, 0] + norms[1, 0]).item() / 2, rel=1e-5)

    loss.backward()
    grad_norm = f_student.grad.abs().sum(dim=1)[0]
    assert grad_norm[0, 0] > 0 and grad_norm[1, 0] > 0
    assert grad_norm[0, 1] == 0 and grad_norm[1, 1] == 0
    assert f_imnet.grad is None


def test_fd_loss_rejects_labels_not_a_multiple_of_the_features():
    with pytest.raises(ValueError, match='integer multiple'):
        thing_class_fd_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 2), torch.zeros(1, 5, 4, dtype=torch.long))


def test_source_component_takes_the_models_class_count():
    # 25 classes: class 24 is kept; with the default 19 the one-hot downscaling could not hold it.
    gt = torch.tensor([[[24, 24, 3, 3],
                        [24, 24, 3, 3]]])
    f_student, f_imnet = torch.randn(1, 4, 1, 2), torch.randn(1, 4, 1, 2)
    model = SimpleNamespace(num_classes=25, loss_by_label=lambda img, label: ({}, [f_student]))
    uda = SimpleNamespace(model=model, imnet=SimpleNamespace(extract_feat=lambda img: [f_imnet]))
    component = SourceSupervision(imnet_teacher='imnet', feature_dist_lambda=0.5, feature_dist_classes=(24,))
    step = SimpleNamespace(source=SimpleNamespace(img=None, label=gt.unsqueeze(1)))
    loss = component.loss(uda, step)['fd.loss']
    assert loss.item() == pytest.approx(0.5 * (f_student - f_imnet)[0, :, 0, 0].norm().item(), rel=1e-5)
