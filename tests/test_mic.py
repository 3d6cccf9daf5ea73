"""MIC (masked image consistency) as a UDA component: the block masks against closed forms, the masked batch of
each mode, the loss weight, its own EMA teacher, and the compositions DACS + MIC with DAFormer and HRDA."""
import pytest
import torch

from daseg.errors import UserError
from daseg.models.uda import BlockMaskGenerator, MaskedConsistency, build_mask_generator, ema_alpha
from daseg.models.uda.components import teacher_pseudo_labels
from speed_models import batch, build_dacs, sgd, step

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

SIZE = (32, 32)
HRDA_SIZE = (64, 64)  # the context branch works at half of it


def mic(**options):
    cfg = dict(type='MaskedConsistency', mask_mode='separatetrg',
               mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=8))
    cfg.update(options)
    return cfg


def test_masked_share_of_many_draws_is_the_ratio():
    generator = torch.Generator().manual_seed(0)
    for ratio in (0.3, 0.7):
        keep = BlockMaskGenerator(ratio, 4).keep_mask((400, 1, 32, 32), generator)
        # 400 x 64 independent blocks: the standard error of the share is below 0.003.
        assert 1 - keep.mean().item() == pytest.approx(ratio, abs=0.01)


def test_blocks_are_nearest_upsampled_from_a_rounded_grid():
    generator = torch.Generator().manual_seed(1)
    keep = BlockMaskGenerator(0.5, 8).keep_mask((3, 1, 30, 44), generator)
    # round(30 / 8) = 4 rows and round(44 / 8) = 6 columns of blocks; nearest upsampling takes the block
    # floor(i * 4 / 30) for row i (and likewise for columns), drawn in the same order from the same seed.
    grid = (torch.rand((3, 1, 4, 6), generator=torch.Generator().manual_seed(1)) > 0.5).float()
    rows = (torch.arange(30) * 4 // 30)
    cols = (torch.arange(44) * 6 // 44)
    torch.testing.assert_close(keep, grid[:, :, rows][:, :, :, cols])
    assert set(keep.unique().tolist()) <= {0.0, 1.0}
    # A block size dividing the image gives exact b x b squares.
    square = BlockMaskGenerator(0.5, 4).keep_mask((2, 1, 16, 16), generator)
    blocks = square.reshape(2, 1, 4, 4, 4, 4)
    assert torch.equal(blocks, blocks[:, :, :, :1, :, :1].expand_as(blocks))


def test_masked_pixels_are_zero_after_normalisation_and_kept_ones_unchanged():
    img = torch.randn(2, 3, 16, 16)
    generator = torch.Generator().manual_seed(2)
    masked = BlockMaskGenerator(0.6, 4).mask_image(img, generator)
    keep = BlockMaskGenerator(0.6, 4).keep_mask(img.shape, torch.Generator().manual_seed(2))
    assert torch.equal(masked, img * keep)
    assert (masked[keep.expand_as(img) == 0] == 0).all() and (masked[keep.expand_as(img) == 1] != 0).all()


def test_bad_generator_options_are_one_line():
    with pytest.raises(UserError, match='mask_generator type must be one of block'):
        build_mask_generator(dict(type='random', mask_ratio=0.5, mask_block_size=4))
    with pytest.raises(UserError, match=r'mask_ratio must be in \[0, 1\)'):
        BlockMaskGenerator(1.0, 4)
    with pytest.raises(UserError, match='mask_mode must be one of separate, separateaug'):
        MaskedConsistency(mask_mode='joint')


def captured_batch(model, data, iteration=1):
    """The images, labels and weights MIC hands to the student, and the step state (for the pseudo-labels)."""
    seen = {}
    original = model.model.loss_by_label

    def spy(img, label, weight=None):
        seen.setdefault('calls', []).append((img, label, weight))
        return original(img, label, weight)
    model.model.loss_by_label = spy
    try:
        from mmengine.logging import MessageHub
        MessageHub.get_current_instance().update_info('iter', iteration)
        uda_step = model.begin_step(data)
        for name, policy in model.teachers.items():
            policy.update(getattr(model, name), model.model, uda_step.iteration)
        losses = model.mic.loss(model, uda_step)
    finally:
        del model.model.loss_by_label
    return seen['calls'][-1], uda_step, losses


@pytest.mark.parametrize('mode', ['separate', 'separatesrc', 'separatetrg'])
def test_each_mode_masks_the_batch_it_states(mode):
    model = build_dacs(size=SIZE, components=[mic(mask_mode=mode)])
    data = batch(SIZE)
    (img, label, weight), uda_step, _ = captured_batch(model, data)
    src, tgt = uda_step.source, uda_step.target
    pl_label, pl_weight = teacher_pseudo_labels(model, uda_step, 'ema_model')
    expected_img, expected_label, expected_weight = {
        'separate': (torch.cat([src.img[:1], tgt.img[:1]]), torch.cat([src.label[:1], pl_label[:1]]),
                     torch.cat([torch.ones_like(pl_weight[:1]), pl_weight[:1]])),
        'separatesrc': (src.img, src.label, None),
        'separatetrg': (tgt.img, pl_label, pl_weight),
    }[mode]
    kept = img != 0
    # Masked copies of exactly these images: equal where kept, and a sizeable share masked.
    assert torch.equal(img[kept], expected_img[kept]) and 0.4 < 1 - kept.float().mean() < 0.95
    assert torch.equal(label, expected_label)
    assert (weight is None) == (expected_weight is None)
    if weight is not None:
        assert torch.equal(weight, expected_weight)


def test_aug_modes_jitter_a_copy_before_masking():
    model = build_dacs(size=SIZE, components=[mic(mask_mode='separatetrgaug', color_jitter_probability=-1.0)])
    (img, _, _), uda_step, _ = captured_batch(model, batch(SIZE))
    kept = img != 0
    # Masking comes last (masked pixels are exactly 0); the kept pixels were jittered; the target is untouched.
    assert 0.4 < 1 - kept.float().mean() < 0.95
    assert not torch.allclose(img[kept], uda_step.target.img[kept])
    assert torch.equal(uda_step.target.img, model.begin_step(batch(SIZE)).target.img)


def test_mask_lambda_scales_the_prediction_loss_but_not_hrdas_detail_term():
    losses = {}
    for lam in (1.0, 0.25):
        model = build_dacs(hrda=True, size=HRDA_SIZE, components=[mic(mask_lambda=lam)])
        losses[lam] = captured_batch(model, batch(HRDA_SIZE))[2]
    torch.testing.assert_close(losses[0.25]['decode.loss_ce'], 0.25 * losses[1.0]['decode.loss_ce'])
    torch.testing.assert_close(losses[0.25]['decode.hr.loss_ce'], losses[1.0]['decode.hr.loss_ce'])


def test_same_reuses_the_dacs_pseudo_labels_with_the_unmixed_weight():
    model = build_dacs(size=SIZE, components=[mic()], pseudo_threshold=0.5)
    assert not hasattr(model.mic, 'teacher') and not any(k.startswith('mic.') for k in model.state_dict())
    (_, label, weight), uda_step, _ = captured_batch(model, batch(SIZE))
    # ClassMix ran on the same cached pseudo-labels before (in a real step) or after: MIC's weight is the
    # teacher's batch confidence share, one value everywhere, not the mixed weight with its source pixels at 1.
    model.mix.loss(model, uda_step)
    direct = model.teachers['ema_model'].pseudo_labels(model.ema_model, uda_step.target.img, uda_step.target.samples)
    assert torch.equal(label, direct[0]) and torch.equal(weight, direct[1])
    assert weight.unique().numel() == 1


def test_own_teacher_follows_the_student_with_its_own_momentum_and_threshold():
    model = build_dacs(size=SIZE, components=[mic(mask_alpha=0.9, mask_pseudo_threshold=None)])
    teacher = model.mic.teacher.ema_model
    assert all(k.startswith('mic.teacher.ema_model.') for k in model.state_dict() if k.startswith('mic.'))
    assert not any(p.requires_grad for p in teacher.parameters())
    optim = sgd(model, lr=0.1)
    step(model, optim, batch(SIZE), 0)  # iteration 0: the teacher becomes a copy of the student
    before_teacher = [p.clone() for p in teacher.parameters()]
    before_student = [p.clone() for p in model.model.parameters()]
    step(model, optim, batch(SIZE, seed=1), 5)
    a = ema_alpha(5, 0.9)
    assert a == pytest.approx(0.8333333)
    for t_new, t_old, s_old in zip(teacher.parameters(), before_teacher, before_student):
        # The update at the start of iteration 5 uses the student before that iteration's optimiser step.
        torch.testing.assert_close(t_new, a * t_old + (1 - a) * s_old)
    (_, _, weight), _, _ = captured_batch(model, batch(SIZE), iteration=6)
    assert torch.equal(weight, torch.ones_like(weight))  # threshold None: weight 1


@pytest.mark.parametrize('hrda', [False, True], ids=['daformer', 'hrda'])
def test_dacs_plus_mic_trains(hrda):
    size = HRDA_SIZE if hrda else SIZE
    model = build_dacs(hrda=hrda, size=size, components=[mic(mask_mode='separatetrgaug', mask_alpha=0.99)])
    optim = sgd(model)
    before = [p.clone() for p in model.model.parameters()]
    for iteration in range(2):
        log = step(model, optim, batch(size, seed=iteration), iteration)
    assert {'src.loss', 'mix.loss', 'masked.loss', 'loss'} <= set(log)
    assert torch.isfinite(log['masked.loss']) and log['masked.loss'] > 0
    torch.testing.assert_close(log['loss'], log['src.loss'] + log['mix.loss'] + log['masked.loss'])
    if hrda:
        assert 'masked.decode.hr.loss_ce' in log
    assert any(not torch.equal(a, b) for a, b in zip(before, model.model.parameters()))


def test_component_names_are_unique():
    with pytest.raises(UserError, match="named 'mic'"):
        build_dacs(size=SIZE, components=[mic(), mic()])
