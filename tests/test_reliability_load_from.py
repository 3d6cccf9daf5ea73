"""``load_from`` is strict: what does not fit is refused with one line naming the key and both shapes; into a UDA
wrapper the student must fit, other sub-models fit or keep their initialisation (said once), sub-models and
modules the wrapper lacks are dropped (said once); loading part of a model is explicit and reported."""
import pytest
import torch
from torch import nn

from daseg.errors import UserError
from daseg.weights import SUB_MODELS
from daseg.weights.fit import fit_checkpoint


class Segmentor(nn.Module):
    def __init__(self, classes=19, width=4):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(3, width), nn.BatchNorm1d(width))
        self.decode_head = nn.Linear(width, classes)


class Wrapper(nn.Module):
    """The parts of a UDA wrapper that loading sees: its sub-models and, optionally, a training-only module."""

    def __init__(self, classes=19, imnet=False, mrm=False):
        super().__init__()
        self.model, self.ema_model = Segmentor(classes), Segmentor(classes)
        if imnet:
            self.imnet_model = Segmentor(classes)
        if mrm:
            self.mrm = nn.Linear(2, 2)

    def sub_models(self):
        return [(sub, getattr(self, sub.attr)) for sub in SUB_MODELS if hasattr(self, sub.attr)]


def prefixed(module, prefix):
    return {prefix + k: v.clone() for k, v in module.state_dict().items()}


def uda_checkpoint(wrapper):
    return {k: v.clone() for k, v in wrapper.state_dict().items()}


def test_plain_model_refuses_another_head_naming_key_and_shapes():
    with pytest.raises(UserError) as exc:
        fit_checkpoint(Segmentor(19), Segmentor(16).state_dict(), 'a16.pth')
    assert str(exc.value) == ('a16.pth does not fit the model: decode_head.weight has shape (16, 4) in the '
                              'checkpoint, (19, 4) in the model')


def test_plain_model_refuses_other_keys():
    other = Segmentor().state_dict()
    other['backbone.2.weight'] = torch.ones(1)
    with pytest.raises(UserError, match=r'^deep.pth does not fit the model: 0 missing keys \(none\), 1 unexpected '
                                        r'keys \(backbone.2.weight\)$'):
        fit_checkpoint(Segmentor(), other, 'deep.pth')


def test_plain_model_refuses_a_uda_checkpoint_and_says_how_to_take_its_student():
    with pytest.raises(UserError, match=r'^dacs.pth is a UDA checkpoint .* and the model a plain segmentor; take '
                                        r'its student first: python tools/convert_checkpoint.py dacs.pth OUT.pth '
                                        '--which student'):
        fit_checkpoint(Segmentor(), uda_checkpoint(Wrapper()), 'dacs.pth')


def test_plain_model_older_checkpoint_without_batchnorm_counter():
    state = {k: v for k, v in Segmentor().state_dict().items() if not k.endswith('num_batches_tracked')}
    fit = fit_checkpoint(Segmentor(), state, 'old.pth')
    assert fit.state_dict == state and not fit.notes


def test_plain_checkpoint_fills_the_student_and_the_teacher_keeps_its_own():
    wrapper, source = Wrapper(imnet=True), Segmentor()
    fit = fit_checkpoint(wrapper, source.state_dict(), 'source_only.pth')
    assert set(fit.state_dict) == set(prefixed(source, 'model.'))
    assert fit.notes == ['student and teacher initialised from source_only.pth (the teacher copied from the student '
                         'at iteration 0); the imagenet (imnet_model.*) keeps its ImageNet weights']
    teacher = prefixed(wrapper.ema_model, 'ema_model.')
    wrapper.load_state_dict(fit.state_dict, strict=False)
    assert all(torch.equal(wrapper.model.state_dict()[k], v) for k, v in source.state_dict().items())
    assert all(torch.equal(wrapper.state_dict()[k], v) for k, v in teacher.items())


def test_sub_models_the_wrapper_lacks_are_dropped_in_one_line():
    ckpt = uda_checkpoint(Wrapper(imnet=True, mrm=True))
    ckpt |= prefixed(Segmentor(), 'mic.teacher.ema_model.')
    fit = fit_checkpoint(Wrapper(), ckpt, 'full.pth')
    assert fit.notes == ['full.pth: dropped imagenet (imnet_model.*), mrm.*, mic_teacher (mic.teacher.ema_model.*), '
                         'which the model does not hold']
    assert {k.split('.')[0] for k in fit.state_dict} == {'model', 'ema_model'}


def test_uda_checkpoint_must_fit_every_sub_model_it_shares():
    ckpt = uda_checkpoint(Wrapper())
    ckpt['ema_model.decode_head.weight'] = torch.zeros(16, 4)
    with pytest.raises(UserError, match=r'^t.pth does not fit the teacher \(ema_model\.\*\): ema_model.decode_head'
                                        r'.weight has shape \(16, 4\) in the checkpoint, \(19, 4\) in the model$'):
        fit_checkpoint(Wrapper(), ckpt, 't.pth')
    with pytest.raises(UserError, match=r'^s.pth does not fit the student \(model\.\*\): model.decode_head.weight '
                                        r'has shape \(16, 4\)'):
        fit_checkpoint(Wrapper(), uda_checkpoint(Wrapper(classes=16)), 's.pth')
    # A module outside the sub-models that the model also has must fit it too.
    ckpt = uda_checkpoint(Wrapper(mrm=True))
    ckpt['mrm.weight'] = torch.zeros(3, 2)
    with pytest.raises(UserError, match=r'^m.pth does not fit the model under mrm\.\*: mrm.weight has shape'):
        fit_checkpoint(Wrapper(mrm=True), ckpt, 'm.pth')


def test_uda_checkpoint_without_student_is_refused():
    ckpt = {k: v for k, v in uda_checkpoint(Wrapper()).items() if not k.startswith('model.')}
    with pytest.raises(UserError, match=r'^teacher_only.pth has no student weights \(model\.\*\); its keys start '
                                        r'with ema_model.backbone\.\* \(7\), ema_model.decode_head\.\* \(2\)$'):
        fit_checkpoint(Wrapper(), ckpt, 'teacher_only.pth')


def test_part_loads_only_the_prefixes_and_says_what_it_left():
    fit = fit_checkpoint(Segmentor(19), Segmentor(16).state_dict(), 'b.pth', part=['backbone'])
    assert set(fit.state_dict) == {k for k in Segmentor().state_dict() if k.startswith('backbone.')}
    assert fit.notes == ['loaded part of b.pth, 7 tensors under backbone.: backbone.* (7); not loaded, 2 model '
                         'tensors keep their initialisation: decode_head.* (2); 2 checkpoint tensors unused: '
                         'decode_head.* (2)']
    # In a UDA wrapper the prefixes apply inside each sub-model the checkpoint has.
    fit = fit_checkpoint(Wrapper(19), Segmentor(16).state_dict(), 'b.pth', part=['backbone.'])
    assert {k.rsplit('.', 2)[0] for k in fit.state_dict} == {'model.backbone'}
    with pytest.raises(UserError, match=r"^b.pth has no keys under neck. \(load_from_part\)"):
        fit_checkpoint(Segmentor(), Segmentor().state_dict(), 'b.pth', part=['neck'])
    # Still strict inside the part.
    with pytest.raises(UserError, match='does not fit the model under decode_head.: decode_head.weight'):
        fit_checkpoint(Segmentor(19), Segmentor(16).state_dict(), 'b.pth', part=['decode_head'])
