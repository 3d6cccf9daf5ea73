"""DDB's adapter head and cross-path distillation (CKD): the head's keys and features, the rectified pseudo-labels
on a hand case, frozen teachers over training steps, DDB's checkpoint keys through every reader, the round-2 start
of a DACS run from a CKD checkpoint, and the refusals (missing teacher file, training without teacher weights)."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from daseg.cli import segmentor_config
from daseg.engine.param_groups import MergedGroupsOptimWrapperConstructor
from daseg.errors import UserError
from daseg.evaluation.command import build_model
from daseg.models.ddb import PrototypeAccumulator, save_prototypes
from daseg.models.uda import CKD, DACS
from daseg.models.uda.components import soft_distillation_loss
from daseg.weights import load_segmentor_weights, save_checkpoint_atomic, segmentor_state_dict
from daseg.weights.fit import fit_checkpoint
from speed_models import batch, sgd, step

ROOT = Path(__file__).resolve().parents[1]
BASE = str(ROOT / 'configs/_base_/models/deeplabv2red_r101v1c_adapter.py')
SIZE = (32, 32)
# Tiny convolutions run many times faster on one thread than on two shared ones.
pytestmark = pytest.mark.usefixtures('one_thread')


def student_cfg(num_classes=19, channels=16):
    """DDB's model config with a narrow ResNet-50 V1c (128 output channels) and a 16-channel adapter head."""
    cfg = Config.fromfile(BASE).model
    cfg.data_preprocessor['size'] = SIZE
    cfg.backbone.update(depth=50, stem_channels=8, base_channels=4, pretrained=None)
    cfg.decode_head.update(in_channels=128, channels=channels, num_classes=num_classes)
    return cfg


def segmentor(seed, **options):
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    return MODELS.build(student_cfg(**options))


def randomised(model, seed):
    """Random BN statistics too, so that a copy is told apart from a fresh model."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and ('running' in name or 'bn' in name):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return model


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Two self-training checkpoints (student, EMA teacher, ImageNet model) and their prototype files."""
    root = tmp_path_factory.mktemp('ckd')
    out = {}
    for k, path in enumerate(('cu', 'ca')):
        student, ema, imnet = (randomised(segmentor(10 * k + j), 10 * k + j) for j in range(3))
        state = {f'{prefix}.{key}': v for prefix, model in (('model', student), ('ema_model', ema),
                                                             ('imnet_model', imnet))
                 for key, v in model.state_dict().items()}
        save_checkpoint_atomic({'state_dict': state, 'meta': {'iter': 4}}, str(root / f'st_{path}.pth'))
        acc = PrototypeAccumulator(19, 16, min_pixels=1)
        generator = torch.Generator().manual_seed(k)
        acc.update(torch.rand(2, 16, 8, 8, generator=generator), torch.randint(0, 19, (2, 8, 8), generator=generator))
        save_prototypes(str(root / f'{path}_prototypes.pth'), acc, {'teacher': path})
        out[path] = dict(checkpoint=str(root / f'st_{path}.pth'), prototypes=str(root / f'{path}_prototypes.pth'),
                         student=student.state_dict(), prototype_values=acc.prototypes)
    out['root'] = root
    return out


def build_ckd(files=None, seed=0, **options):
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    teachers = {} if files is None else dict(
        region_teacher={k: files['cu'][k] for k in ('checkpoint', 'prototypes')},
        class_teacher={k: files['ca'][k] for k in ('checkpoint', 'prototypes')})
    model = CKD(model=student_cfg(), **teachers, **options)
    model.init_weights()  # as the runner does before load_from / resume: the teachers' checkpoints are read here
    return model.train()


# -- the head and the segmentor's call ----------------------------------------------------------------------


def test_adapter_head_has_ddbs_keys_and_shapes():
    cfg = Config.fromfile(BASE).model.decode_head
    with torch.device('meta'):
        head = MODELS.build(cfg)
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}

    def conv_module(name, out, inp):  # mmcv ConvModule with BN: a conv without bias, then 'bn'
        bn = {f'{name}.bn.{k}': (out,) for k in ('weight', 'bias', 'running_mean', 'running_var')}
        return {f'{name}.conv.weight': (out, inp, 3, 3), **bn, f'{name}.bn.num_batches_tracked': ()}
    expected = {'conv_seg.weight': (19, 256, 1, 1), 'conv_seg.bias': (19,), **conv_module('aspp_modules.0', 128, 2048),
                **conv_module('aspp_modules.1', 128, 2048), **conv_module('bottleneck', 256, 256)}
    assert shapes == expected
    assert [m.conv.dilation for m in head.aspp_modules] == [(6, 6), (12, 12)]
    with pytest.raises(UserError, match='channels \\(15\\) must be a multiple of the 2 branches'):
        MODELS.build(dict(cfg, channels=15))


def test_features_are_the_bottleneck_output_and_both_are_upsampled():
    model = segmentor(0, channels=8).eval()
    head = model.decode_head
    img = torch.randn(2, 3, *SIZE)
    logits, features = model.logits_and_features(img)
    x = model.extract_feat(img)[3]
    bottleneck = head.bottleneck(torch.cat([branch(x) for branch in head.aspp_modules], dim=1))
    torch.testing.assert_close(features, resize(bottleneck, SIZE, mode='bilinear', align_corners=False))
    torch.testing.assert_close(logits, resize(head.conv_seg(bottleneck), SIZE, mode='bilinear', align_corners=False))
    assert logits.shape == (2, 19, *SIZE) and features.shape == (2, 8, *SIZE)
    torch.testing.assert_close(model.pseudo_logits(img), logits)
    # DDB's initialisation: N(0, 0.01) on the branches; the bottleneck keeps Kaiming's.
    head.init_weights()
    assert abs(head.aspp_modules[0].conv.weight.std().item() - 0.01) < 0.002
    assert head.bottleneck.conv.weight.std().item() > 0.05
    # A head without features (DeepLabV2) is refused in one line.
    cfg = student_cfg()
    cfg.decode_head = dict(type='DLV2Head', in_channels=128, in_index=3, dilations=(6, 12), num_classes=19)
    with pytest.raises(UserError, match='decode head DLV2Head gives no features'):
        MODELS.build(cfg).logits_and_features(img)


# -- the distillation target --------------------------------------------------------------------------------


def test_rectified_ensemble_pseudo_labels_on_a_hand_case():
    """Two pixels, three classes, 2-d features: teacher probabilities and features written out; the prototype
    weights softmax(-d) and the mean of w * p flip both pixels' labels from the plain ensemble's."""
    init_default_scope('mmseg')
    model = CKD(model=student_cfg(num_classes=3, channels=2)).train()
    ckd = model.ckd
    probs = {'cu_model': [[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]], 'ca_model': [[0.3, 0.5, 0.2], [0.4, 0.2, 0.4]]}
    feats = {'cu_model': [[0.0, 0.0], [3.0, 4.0]], 'ca_model': [[0.0, 0.0], [0.0, 2.0]]}
    protos = {'cu_model': [[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]], 'ca_model': [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]}
    for name in probs:
        logits = torch.tensor(probs[name]).log().T.reshape(1, 3, 1, 2)
        features = torch.tensor(feats[name]).T.reshape(1, 2, 1, 2)
        setattr(getattr(model, name), 'logits_and_features', lambda img, out=(logits, features): out)
        ckd.set_prototypes(name, torch.tensor(protos[name]), torch.ones(3, dtype=torch.long))
    label, weight, ensemble = ckd.pseudo_labels(model, torch.zeros(1, 3, 1, 2))
    # Pixel 1: w_cu = softmax(-(0, 5, 1)) = (0.72748, 0.00490, 0.26762), w_ca = softmax(-(0, 1, 2)) = (0.66524,
    # 0.24473, 0.09003); pixel 2: distances (5, 0, sqrt 18) and (2, sqrt 5, 0).
    expected = torch.tensor([[0.1361599012, 0.0626526245, 0.0491465304], [0.0234390471, 0.1065367086, 0.1631138410]])
    torch.testing.assert_close(ensemble.reshape(3, 2).T, expected)
    assert label.flatten().tolist() == [0, 2]  # the plain mean (0.2, 0.55, 0.25), (0.45, 0.2, 0.35) gives 1, 0
    assert torch.equal(weight, torch.ones(1, 1, 2))
    # DDB's use_pl_weight: the share of pixels whose maximum reaches the threshold (0.136 and 0.163).
    ckd.pl_weight, ckd.pseudo_threshold = True, 0.15
    assert ckd.pseudo_labels(model, torch.zeros(1, 3, 1, 2))[1].flatten().tolist() == [0.5, 0.5]


def test_soft_distillation_loss_is_ddbs_kl():
    # Uniform student over two classes, teacher (0.8, 0.2): KL = 0.8 ln 1.6 + 0.2 ln 0.4 per pixel.
    kl = 0.8 * math.log(1.6) + 0.2 * math.log(0.4)
    teacher = torch.tensor([0.8, 0.2]).reshape(1, 2, 1, 1).expand(2, 2, 3, 4)
    student = torch.zeros(2, 2, 3, 4)
    assert soft_distillation_loss(student, teacher).item() == pytest.approx(0.1 * kl, rel=1e-5)
    assert soft_distillation_loss(student, teacher, temperature=2.0, weight=0.5).item() == pytest.approx(
        0.5 * 4 * kl, rel=1e-5)


# -- training -----------------------------------------------------------------------------------------------


def test_teachers_are_their_checkpoints_students_and_stay_frozen_in_eval(files):
    model = build_ckd(files)
    for name, path in (('cu_model', 'cu'), ('ca_model', 'ca')):
        own = getattr(model, name).state_dict()
        assert all(torch.equal(own[k], v) for k, v in files[path]['student'].items())  # model.*, not ema/imnet
        torch.testing.assert_close(getattr(model.ckd, f'{name}_prototypes'), files[path]['prototype_values'])
    teachers = {name: {k: v.clone() for k, v in getattr(model, name).state_dict().items()}
                for name in ('cu_model', 'ca_model')}
    student = {k: v.clone() for k, v in model.stu_model.state_dict().items()}
    # Only the student is optimised (DDB: head x 10), whatever the frozen teachers hold.
    optim = MergedGroupsOptimWrapperConstructor(
        dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
        dict(custom_keys={'head': dict(lr_mult=10.0)}))(model)
    optimised = {id(p) for group in optim.optimizer.param_groups for p in group['params']}
    assert optimised == {id(p) for p in model.stu_model.parameters()}
    for iteration in (0, 1):
        model.train()
        log = step(model, optim, batch(SIZE), iteration)
        assert torch.isfinite(log['ckd.decode.loss_ce']) and log['ckd.pseudo_weight'].item() == 1.0
    for name, before in teachers.items():
        teacher = getattr(model, name)
        assert not any(m.training for m in teacher.modules()) and not any(p.requires_grad for p in teacher.parameters())
        assert all(torch.equal(v, before[k]) for k, v in teacher.state_dict().items())  # BN statistics too
    changed = [k for k, v in model.stu_model.state_dict().items() if not torch.equal(v, student[k])]
    assert any(k.startswith('decode_head.') for k in changed) and any(k.startswith('backbone.') for k in changed)


def test_soft_distillation_trains_the_student(files):
    model = build_ckd(files, soft_distill=True)
    before = model.stu_model.decode_head.conv_seg.weight.clone()
    log = step(model, sgd(model), batch(SIZE), 0)
    assert set(k for k in log if k.startswith('ckd.')) == {'ckd.loss_distill', 'ckd.loss'}
    assert not torch.equal(before, model.stu_model.decode_head.conv_seg.weight)


# -- checkpoints --------------------------------------------------------------------------------------------


def test_ckd_checkpoint_keys_are_ddbs(files):
    model = build_ckd(files)
    keys = list(model.state_dict())
    own = list(model.stu_model.state_dict())
    for prefix in ('stu_model.', 'cu_model.', 'ca_model.'):
        assert [k[len(prefix):] for k in keys if k.startswith(prefix)] == own
    assert sorted(k for k in keys if not k.startswith(('stu_model.', 'cu_model.', 'ca_model.'))) == [
        'ckd.ca_model_prototype_counts', 'ckd.ca_model_prototypes', 'ckd.cu_model_prototype_counts',
        'ckd.cu_model_prototypes']
    assert [sub.name for sub, _ in model.sub_models()] == ['student', 'region_teacher', 'class_teacher']


def ddb_released_checkpoint(path):
    """A checkpoint as DDB saves it: stu_model.*, cu_model.*, ca_model.* of a ResNet + DLV2AdapterHead, no other."""
    parts = {prefix: randomised(segmentor(seed), seed).state_dict()
             for seed, prefix in enumerate(('stu_model', 'cu_model', 'ca_model'), start=40)}
    state = {f'{prefix}.{k}': v for prefix, sd in parts.items() for k, v in sd.items()}
    torch.save({'state_dict': state, 'meta': {'iter': 40000}}, path)
    return parts


def test_released_ddb_checkpoint_loads_through_the_test_path_and_every_sub_model(tmp_path):
    path = str(tmp_path / 'gta2city_ckd-pro_dlv2.pth')
    parts = ddb_released_checkpoint(path)
    # test.sh: the student of the CKD config, built and loaded as daseg.evaluation.command does (strictly).
    model = build_model(segmentor_config(Config(dict(model=dict(type='CKD', model=student_cfg())))), 'cpu')
    for which, prefix in (('student', 'stu_model'), ('region_teacher', 'cu_model'), ('class_teacher', 'ca_model')):
        load_segmentor_weights(model, path, which)
        loaded = model.state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in parts[prefix].items())
        assert set(segmentor_state_dict(torch.load(path, weights_only=True), which)) == set(model.state_dict())
    with pytest.raises(UserError, match=r'no teacher weights \(ema_model'):
        load_segmentor_weights(model, path, 'teacher')
    # Into a CKD wrapper (mmseg's init_model / the runner): every key of the sub-models, the teachers count as loaded.
    ckd = CKD(model=student_cfg())
    result = ckd.load_state_dict(torch.load(path, weights_only=True)['state_dict'], strict=False)
    assert not result.unexpected_keys and all(k.startswith('ckd.') for k in result.missing_keys)
    assert all(policy.loaded for policy in ckd.teachers.values())
    student = ckd.stu_model.state_dict()
    assert all(torch.equal(student[k], v) for k, v in parts['stu_model'].items())


def test_round_two_dacs_starts_from_the_ckd_student_and_its_teacher_copies_it(files, tmp_path):
    ckd_state = build_ckd(files).state_dict()
    init_default_scope('mmseg')
    dacs = DACS(model=student_cfg(), alpha=0.99)
    fit = fit_checkpoint(dacs, ckd_state, 'r1_ckd.pth')
    assert set(fit.state_dict) == {f'model.{k}' for k in dacs.model.state_dict()}
    assert any('dropped region_teacher (cu_model.*), class_teacher (ca_model.*), ckd.*' in n for n in fit.notes)
    dacs.load_state_dict(fit.state_dict, strict=False)
    dacs.teachers['ema_model'].update(dacs.ema_model, dacs.model, 0)  # what train_step does at iteration 0
    teacher = dacs.ema_model.state_dict()
    for key, value in dacs.model.state_dict().items():
        assert torch.equal(value, ckd_state[f'stu_model.{key}']) and torch.equal(teacher[key], value)
    # mmseg's init_model (load_checkpoint, not strict) also finds the student under stu_model.*.
    other = DACS(model=student_cfg(), alpha=0.99)
    result = other.load_state_dict(ckd_state, strict=False)
    assert all(k.startswith('ema_model.') for k in result.missing_keys)
    assert torch.equal(other.model.decode_head.conv_seg.weight, ckd_state['stu_model.decode_head.conv_seg.weight'])


def test_resumed_ckd_needs_no_files_and_fits_its_own_checkpoint(files):
    state = build_ckd(files).state_dict()
    model = build_ckd(None, seed=1)
    fit = fit_checkpoint(model, state, 'iter_2.pth')
    assert set(fit.state_dict) == set(model.state_dict()) and not fit.notes
    model.load_state_dict(fit.state_dict, strict=False)
    log = step(model, sgd(model), batch(SIZE), 2)
    assert torch.isfinite(log['ckd.loss'])


# -- refusals -----------------------------------------------------------------------------------------------


def test_refusals_are_one_line(files, tmp_path):
    init_default_scope('mmseg')
    with pytest.raises(UserError, match=r'^region_teacher.checkpoint: checkpoint not found: .*nowhere.pth$'):
        CKD(model=student_cfg(), region_teacher=dict(checkpoint=str(tmp_path / 'nowhere.pth')))
    with pytest.raises(UserError, match='CKD class_teacher: unknown key ckpt'):
        CKD(model=student_cfg(), class_teacher=dict(ckpt='x.pth'))
    with pytest.raises(UserError, match='CKD: unknown option prot_rectify'):
        CKD(model=student_cfg(), prot_rectify=True)
    with pytest.raises(UserError, match='prototype file not found'):
        CKD(model=student_cfg(), region_teacher=dict(prototypes=str(tmp_path / 'none.pth')))
    # Training never starts from random teachers or without prototypes.
    with pytest.raises(UserError, match=r'^region_teacher has no weights: give region_teacher.checkpoint'):
        step(build_ckd(None), None, batch(SIZE), 0)
    teachers_only = build_ckd(dict(cu=dict(files['cu'], prototypes=None), ca=dict(files['ca'], prototypes=None)))
    with pytest.raises(UserError, match='no prototypes for the teacher cu_model, ca_model'):
        step(teachers_only, None, batch(SIZE), 0)
