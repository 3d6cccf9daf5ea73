"""EMA teacher: momentum schedule, initialisation, update formula, frozen buffers, dropout handling."""
import pytest
import torch
from mmcv.cnn.bricks.drop import DropPath
from torch import nn

from daseg.models.uda import disable_teacher_dropout, ema_alpha, freeze_teacher, init_teacher, update_teacher


class _Scale(nn.Module):
    """A 0-dim parameter, the case the original special-cased."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return x * self.scale


def _net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Dropout(0.5), DropPath(0.5), _Scale(),
                         nn.Conv2d(4, 2, 1))


@pytest.mark.parametrize('iteration, expected', [(0, 0.0), (1, 0.5), (9, 0.9), (999, 0.999), (5000, 0.999)])
def test_ema_alpha_schedule(iteration, expected):
    assert ema_alpha(iteration, 0.999) == pytest.approx(expected, abs=1e-12)


def test_init_teacher_copies_parameters_and_buffers():
    student, teacher = _net(0), _net(1)
    student[1].running_mean.fill_(3.0)
    student[1].num_batches_tracked.fill_(7)
    init_teacher(teacher, student)
    for (name, t), s in zip(teacher.state_dict().items(), student.state_dict().values()):
        assert torch.equal(t, s), name


def test_update_teacher_matches_formula_and_leaves_buffers():
    student, teacher = _net(0), _net(1)
    teacher[1].running_var.fill_(5.0)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    buffers = {name for name, _ in teacher.named_buffers()}

    momentum = update_teacher(teacher, student, iteration=9, alpha=0.999)

    assert momentum == pytest.approx(0.9)
    student_state = student.state_dict()
    for name, value in teacher.state_dict().items():
        if name in buffers:
            assert torch.equal(value, before[name]), name
        else:
            torch.testing.assert_close(value, 0.9 * before[name] + 0.1 * student_state[name])


def test_update_at_iteration_zero_copies_the_student():
    student, teacher = _net(0), _net(1)
    update_teacher(teacher, student, iteration=0)
    for t, s in zip(teacher.parameters(), student.parameters()):
        assert torch.equal(t, s)


def test_update_rejects_a_different_architecture():
    with pytest.raises(ValueError, match='parameters'):
        update_teacher(nn.Linear(2, 2), _net(0), iteration=3)


def test_freeze_teacher():
    teacher = _net(0)
    freeze_teacher(teacher)
    assert not any(p.requires_grad for p in teacher.parameters())


def test_teacher_dropout_off_while_batchnorm_trains():
    teacher = _net(0).train()
    disable_teacher_dropout(teacher)
    assert teacher.training and teacher[1].training
    assert not teacher[2].training and not teacher[3].training
    x = torch.randn(4, 3, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(teacher(x), teacher(x))
    # .train() switches them back on: the wrapper calls the function again after it.
    teacher.train()
    assert teacher[2].training and teacher[3].training
