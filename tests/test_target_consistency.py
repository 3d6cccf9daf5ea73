"""Teacher consistency ("soft"): 0.9 x the ClassMix loss plus 0.1 x the student's cross-entropy on the unmixed target
against the teacher's pseudo-labels, computed here by hand, with a gradient into the student."""
import pytest
import torch
import torch.nn.functional as F

from daseg.models.uda.components import teacher_pseudo_labels
from speed_models import batch, build_dacs, sgd, step

# Tiny models: one thread is faster, and leaves the other cores to the rest of the suite.
pytestmark = pytest.mark.usefixtures('one_thread')
SIZE = (32, 32)


def test_loss_is_point_nine_mixed_plus_point_one_unmixed_target_with_gradient():
    soft = build_dacs(size=SIZE, mix_loss_weight=0.9, components=[dict(type='TargetConsistency', loss_weight=0.1)],
                      pseudo_threshold=0.05)
    plain = build_dacs(size=SIZE, pseudo_threshold=0.05)
    log = step(soft, sgd(soft), batch(SIZE), 0)
    reference = step(plain, sgd(plain), batch(SIZE), 0)
    torch.testing.assert_close(log['mix.decode.loss_ce'], 0.9 * reference['mix.decode.loss_ce'])
    torch.testing.assert_close(log['mix.decode.acc_seg'], reference['mix.decode.acc_seg'])
    torch.testing.assert_close(log['loss'], log['src.loss'] + log['mix.loss'] + log['tgt.loss'])

    # The unmixed-target term by hand: pixel-weighted cross-entropy of the student's upsampled logits, mean over
    # all pixels, against the teacher's pseudo-labels and their confidence weights.
    uda_step = soft.begin_step(batch(SIZE, seed=1))
    teacher = soft.teachers['ema_model']
    teacher.update(soft.ema_model, soft.model, 1)
    # The median confidence as threshold: a weight of one half.
    confidence = torch.softmax(soft.ema_model.pseudo_logits(uda_step.target.img), dim=1).max(dim=1)[0]
    teacher.pseudo_threshold = confidence.median().item()
    label, weight = teacher_pseudo_labels(soft, uda_step, 'ema_model')
    assert 0.4 < weight.mean() < 0.6
    soft.zero_grad()
    torch.manual_seed(3)
    loss = soft.tgt.loss(soft, uda_step)['decode.loss_ce']
    with torch.no_grad():
        torch.manual_seed(3)  # the same dropout and drop-path draws
        logits = soft.model.decode_head(soft.model.extract_feat(uda_step.target.img))
        logits = F.interpolate(logits, size=SIZE, mode='bilinear', align_corners=False)
        ce = F.cross_entropy(logits, label, reduction='none', ignore_index=255)
    torch.testing.assert_close(loss, 0.1 * (ce * weight).mean())
    loss.backward()
    for part in (soft.model.backbone, soft.model.decode_head):
        assert sum(p.grad.abs().sum() for p in part.parameters() if p.grad is not None) > 0
    assert all(p.grad is None for p in soft.ema_model.parameters())

