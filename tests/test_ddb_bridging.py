"""DDB's bridging as UDA components: the CutMix box law against its closed forms (area fraction, the y-proportion's
CDF, boxes inside the image, the rounded uniform corner), masks and mixed labels / weights of a hand box, the
teacher labelling the clean target, ClassMix's per-crop half of the classes through the component, and a short
training run of a tiny UDAWrapper with an EMA teacher and [SourceSupervision, CutMixSelfTraining]."""
import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from daseg.engine.hooks.debug_images import debug_panels
from daseg.errors import UserError
from daseg.models.uda import ClassMixSelfTraining, CutMixSelfTraining, UDAWrapper, cut_mix_boxes, cut_mix_masks
from daseg.models.uda.class_mix import class_mix_keys
from speed_models import batch, segmentor_cfg, sgd

pytestmark = pytest.mark.usefixtures('one_thread')
DRAWS = 20000
AREA = 0.4
KS_99 = 1.63  # Kolmogorov's sup-distance bound at level 0.01 is 1.63 / sqrt(n)


@pytest.fixture(scope='module')
def boxes():
    """20000 boxes in a 512 x 1024 image: (top, left, height, width) as float64 numpy columns."""
    drawn = cut_mix_boxes(DRAWS, (512, 1024), torch.Generator().manual_seed(0))
    assert drawn.dtype == torch.long and drawn.shape == (DRAWS, 4)
    return drawn.double().numpy().T


def test_boxes_lie_inside_and_cover_the_area_fraction_up_to_rounding(boxes):
    top, left, height, width = boxes
    H, W = 512, 1024
    assert (top >= 0).all() and (left >= 0).all() and (top + height <= H).all() and (left + width <= W).all()
    # height = y H + e1, width = x W + e2 with x y = a and |e| <= 1/2, so |height width - a H W| <= (H + W) / 2 + 1/4.
    fraction = height * width / (H * W)
    assert np.abs(fraction - AREA).max() <= ((H + W) / 2 + 0.25) / (H * W)
    assert fraction.mean() == pytest.approx(AREA, abs=1e-3)
    # y_prop in [a, 1] (up to the rounding of the height), and so is x_prop = a / y_prop.
    assert height.min() >= round(AREA * H) and height.max() <= H and width.min() >= round(AREA * W)


def test_the_y_proportion_follows_its_law(boxes):
    y = np.sort(boxes[2] / 512)
    n = len(y)
    cdf = np.clip(1 - np.log(y) / np.log(AREA), 0, 1)  # P(y_prop <= t) = 1 - ln t / ln a on [a, 1]
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    # Rounding moves y by at most 0.5 / 512, i.e. the CDF by at most its largest density 1 / (a ln(1/a)) times that.
    rounding = 0.5 / 512 / (AREA * math.log(1 / AREA))
    assert ks <= KS_99 / math.sqrt(n) + rounding, ks
    # A uniform y_prop on [a, 1] (a plausible mistake) is far from it.
    assert np.max(np.abs((y - AREA) / (1 - AREA) - cdf)) > 0.05


@pytest.mark.parametrize('corner, side, length', [(0, 2, 512), (1, 3, 1024)])
def test_the_corner_is_a_rounded_uniform_draw_over_the_free_range(boxes, corner, side, length):
    start, free = boxes[corner], length - boxes[side]
    assert (start <= free).all()
    # start = round(F u), u ~ U(0, 1): P(start <= floor(t F)) = min(1, (floor(t F) + 1/2) / F) for F > 0.
    used = free > 0
    start, free = start[used], free[used]
    for t in np.linspace(0.05, 0.95, 19):
        k = np.floor(t * free)
        p = np.minimum(1, (k + 0.5) / free)
        observed = np.sum(start <= k)
        assert abs(observed - p.sum()) <= 5 * math.sqrt((p * (1 - p)).sum()), t


def test_boxes_are_the_formula_of_the_generators_draws():
    size, seed = (10, 30), 4
    u = torch.rand((5, 3), generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()
    y_prop = np.exp(u[:, 0] * np.log(AREA))
    height, width = np.round(y_prop * 10), np.round(AREA / y_prop * 30)
    expected = np.stack([np.round((10 - height) * u[:, 1]), np.round((30 - width) * u[:, 2]), height, width], 1)
    drawn = cut_mix_boxes(5, size, torch.Generator().manual_seed(seed))
    np.testing.assert_array_equal(drawn.numpy(), expected)


def test_masks_are_one_exactly_inside_the_box():
    masks = cut_mix_masks(torch.tensor([[1, 2, 2, 3], [0, 0, 4, 6]]), (4, 6))
    expected = torch.zeros(2, 1, 4, 6)
    expected[0, 0, 1:3, 2:5] = 1
    expected[1] = 1
    assert masks.dtype == torch.float32 and torch.equal(masks, expected)
    drawn = cut_mix_boxes(50, (20, 24), torch.Generator().manual_seed(1))
    masks = cut_mix_masks(drawn, (20, 24))
    for (top, left, height, width), mask in zip(drawn.tolist(), masks[:, 0]):
        rows, cols = mask.nonzero().unbind(1)
        assert mask.sum() == height * width
        assert (rows.min(), rows.max(), cols.min(), cols.max()) == (top, top + height - 1, left, left + width - 1)


def test_mixed_labels_and_weights_follow_a_hand_box():
    box = torch.tensor([[1, 2, 2, 3]])
    inside = torch.zeros(1, 4, 6, dtype=torch.bool)
    inside[:, 1:3, 2:5] = True
    src_img, tgt_img = torch.full((1, 3, 4, 6), 1.0), torch.full((1, 3, 4, 6), -1.0)
    src_label, pl_label = torch.full((1, 4, 6), 7), torch.full((1, 4, 6), 2)
    src_label[0, 1, 2] = 255  # an ignored source pixel is pasted as ignored
    pl_weight = torch.full((1, 4, 6), 0.3)
    masks, img, label, weight = CutMixSelfTraining.mix_batch(box, src_img, src_label, tgt_img, pl_label, pl_weight)
    assert torch.equal(masks[:, 0].bool(), inside)
    assert torch.equal(img, torch.where(inside[:, None], 1.0, -1.0).expand(1, 3, 4, 6))
    expected_label = torch.where(inside, 7, 2)
    expected_label[0, 1, 2] = 255
    assert label.dtype == torch.long and torch.equal(label, expected_label)
    assert torch.equal(weight, torch.where(inside, 1.0, 0.3))
    assert torch.equal(pl_weight, torch.full((1, 4, 6), 0.3))  # the unmixed weight is left as it was


def test_the_box_mixing_compiles_without_graph_breaks():
    args = (cut_mix_boxes(2, (8, 8), torch.Generator().manual_seed(0)), torch.randn(2, 3, 8, 8),
            torch.randint(0, 19, (2, 8, 8)), torch.randn(2, 3, 8, 8), torch.randint(0, 19, (2, 8, 8)),
            torch.rand(2, 8, 8))
    compiled = torch.compile(CutMixSelfTraining.mix_batch, backend='eager', fullgraph=True, dynamic=False)
    for eager, traced in zip(CutMixSelfTraining.mix_batch(*args), compiled(*args)):
        assert torch.equal(eager, traced)


class Step:
    """The parts of a UDAStep that drawing the keys reads."""

    def __init__(self, label, seed):
        self.source = type('Batch', (), dict(label=label))
        self.generator = torch.Generator().manual_seed(seed)


def test_class_mix_pastes_half_of_each_crops_own_classes_through_the_component():
    labels = torch.tensor([[[0, 0, 1, 255], [2, 2, 1, 3]], [[5, 5, 5, 5], [5, 5, 5, 5]], [[4, 6, 8, 9], [1, 1, 1, 1]]])
    component = ClassMixSelfTraining()
    for seed in range(10):
        keys = component.draw_keys(Step(labels, seed))
        # The component draws what ClassMix always drew from the step's generator.
        assert torch.equal(keys, class_mix_keys(3, torch.Generator().manual_seed(seed)))
        masks, *_ = component.mix_batch(keys, torch.zeros(3, 3, 2, 4), labels, torch.zeros(3, 3, 2, 4),
                                        torch.zeros_like(labels), torch.ones(3, 2, 4))
        for label, mask in zip(labels, masks[:, 0].bool()):
            own = set(label.unique().tolist()) - {255}
            pasted = set(label[mask].tolist())
            assert pasted <= own and len(pasted) == math.ceil(len(own) / 2)
            assert torch.equal(mask, torch.isin(label, torch.tensor(sorted(pasted))))


def test_area_must_be_a_fraction():
    with pytest.raises(UserError, match=r'CutMixSelfTraining: area .* in \(0, 1\]; got 1.5'):
        CutMixSelfTraining(area=1.5)


def tiny_wrapper():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return UDAWrapper(segmentor_cfg(), teachers=dict(ema_model=dict(type='EMATeacher', alpha=0.99)),
                      components=[dict(type='SourceSupervision'), dict(type='CutMixSelfTraining')]).train()


def test_the_student_learns_on_the_box_mix_of_the_clean_targets_pseudo_labels():
    model = tiny_wrapper()
    teacher = model.teachers['ema_model']
    labelled, seen = [], []
    original_labels, original_loss = teacher.label_batch, model.model.loss_by_label

    def label_spy(segmentor, img):
        labelled.append(img)
        return original_labels(segmentor, img)

    def loss_spy(img, label, weight=None):
        seen.append((img, label, weight))
        return original_loss(img, label, weight)
    teacher.label_batch, model.model.loss_by_label, model.keep_step = label_spy, loss_spy, True
    before = {k: v.clone() for k, v in model.model.state_dict().items()}
    optim = sgd(model, lr=0.05)
    logs = []
    for iteration in range(2):
        MessageHub.get_current_instance().update_info('iter', iteration)
        logs.append(model.train_step(batch(seed=iteration), optim))
    step = model.last_step
    # The teacher labelled the clean target of the step once, and nothing else.
    assert len(labelled) == 2 and labelled[-1] is step.target.img
    pl_label, pl_weight = original_labels(model.ema_model, step.target.img)
    img, label, weight = seen[-1]  # the CutMix call (the source loss has no weights)
    mask = step.cache['class_mix']['mask'][:, 0].bool()
    # A box of 40% of the 32 x 32 crop up to rounding (the bound of the first test).
    assert mask.float().mean(dim=(1, 2)).tolist() == pytest.approx([AREA] * 2, abs=(32 + 0.25) / 32 ** 2)
    assert torch.equal(label[mask], step.source.label[mask]) and torch.equal(label[~mask], pl_label[~mask])
    assert torch.all(weight[mask] == 1) and torch.equal(weight[~mask], pl_weight[~mask])
    assert {'src.loss', 'mix.loss', 'mix.pseudo_weight'} <= set(logs[-1])
    assert all(torch.isfinite(v).all() for log in logs for v in log.values())
    changed = [k for k, v in model.model.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert 'decode_head.conv_seg.weight' in changed and any(k.startswith('backbone.') for k in changed)
    # The debug pictures read the same cache as with ClassMix.
    assert 'mix mask' in [name for name, _ in debug_panels(model, step)]
