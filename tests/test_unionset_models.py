"""Union-set models on tiny tensors: each stage's losses against a second computation written from the formulas
(loops over classes and sources), which parameters each of a stage's optimiser steps moves, the source models'
label mapping and lifting, loading a source model into a branch, and the pseudo-label writer on a hand case."""
import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import daseg  # noqa: F401  (registers the models)
from daseg.errors import UserError
from daseg.models.unionset import label_sets
from daseg.models.unionset.stage1 import non_identity_permutation
from daseg.pipelines.pseudo_labels import write_pseudo_labels

# torch on one thread: two threads contend on a shared 2-core machine.
pytestmark = pytest.mark.usefixtures('one_thread')

IGNORE = 255
BRANCH = dict(
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[104.0, 116.7, 122.7], std=[1.0, 1.0, 1.0],
                           bgr_to_rgb=False, size_divisor=8, pad_val=0, seg_pad_val=255),
    backbone=dict(type='DeepLabResNet', depth=18, out_indices=(0, 1, 2, 3), pretrained=None),
    decode_head=dict(type='DLV2Head', in_channels=512, in_index=3, dilations=(6, 12), num_classes=19,
                     align_corners=True),
    align_corners=True)


def build(kind, setting='p', sources=('gta', 'synthia'), **kwargs):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(dict(BRANCH, type=kind, setting=setting, sources=list(sources), **kwargs))
    model.init_weights()
    return model


# -- the formulas, written out ------------------------------------------------------------------------------

def up(z, size):
    return F.interpolate(z, size=size, mode='bilinear', align_corners=True)


def ce(logits, target):
    logp = logits.log_softmax(1)
    valid = target != IGNORE
    picked = logp.gather(1, target.clamp(max=logits.shape[1] - 1)[:, None])[:, 0]
    return -(picked * valid).sum() / valid.sum()


def ms(logits):
    p = logits.softmax(1)
    return -(p ** 2).sum() / (logits.shape[0] * logits.shape[2] * logits.shape[3])


def ens(logits, sets):
    out = []
    for k in range(19):
        terms = [z[:, ls.local_index(k)] for z, ls in zip(logits, sets) if k in ls.known]
        out.append(sum(terms) / len(terms))
    return torch.stack(out, 1)


def consistency(logits, sets):
    shared = [k for k in range(19) if sum(k in ls.known for ls in sets) > 1]
    if not shared:
        return torch.zeros(())
    terms = []
    for k in shared:
        values = [z[:, ls.local_index(k)] for z, ls in zip(logits, sets) if k in ls.known]
        mean = sum(values) / len(values)
        terms.append(sum((v - mean).abs().mean() for v in values))
    return sum(terms) / len(terms)


def gap(a, b):
    return (a.softmax(1) - b.softmax(1)).abs().mean()


def to_local(y, ls, void_other=False):
    out = torch.zeros_like(y)
    for k in ls.known:
        out[y == k] = ls.local_index(k)
    if not void_other:
        out[y == IGNORE] = IGNORE
    return out


def batch(n=1, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, h, w, generator=g) * 50
    y = torch.randint(0, 19, (n, h, w), generator=g)
    y[:, :4] = IGNORE
    return x, y


# -- stage 0 and the source average -------------------------------------------------------------------------

@pytest.mark.parametrize('void', ['other', 'ignore'])
def test_source_model_trains_on_its_label_set(void):
    model = build('UnionSetSources', held=['synthia'], void=void).eval()
    ls = label_sets('p', ['gta', 'synthia'])[1]
    x, y = batch()
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    samples = [SegDataSample(gt_sem_seg=PixelData(data=y[0][None]))]
    loss = model.loss(x, samples)['decode.loss_ce']
    logits = up(model.head('synthia', model.features('synthia', x)), y.shape[1:])
    expected = ce(logits, to_local(y, ls, void_other=void == 'other'))
    assert torch.allclose(loss, expected, atol=1e-5)
    assert model.num_classes == 19 and logits.shape[1] == 15


def test_source_average_lifts_and_averages():
    model = build('UnionSetSources').eval()
    x, _ = batch()
    sets = label_sets('p', ['gta', 'synthia'])
    lifted = []
    for s, ls in zip(['gta', 'synthia'], sets):
        p = up(model.head(s, model.features(s, x)), x.shape[2:]).softmax(1)
        unknown = [k for k in range(19) if k not in ls.known]
        lifted.append(torch.stack([p[:, ls.local_index(k)] if k in ls.known else p[:, 0] / len(unknown)
                                   for k in range(19)], 1))
    with torch.no_grad():
        probs = model.probabilities(x)
    assert torch.allclose(probs, (lifted[0] + lifted[1]) / 2, atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(1, 32, 48), atol=1e-5)
    # The mmseg prediction is the arg-max of those probabilities.
    assert torch.equal(model.predict(x)[0].pred_sem_seg.data[0], probs[0].argmax(0))


# -- stage 1 ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('setting,sources', [('p', ('gta', 'synthia')), ('n', ('synscapes', 'gta', 'synthia')),
                                             ('p', ('synscapes', 'gta', 'synthia'))])
def test_stage1_losses_match_the_formulas(setting, sources):
    model = build('UnionSetStage1', setting=setting, sources=sources).eval()
    sets = label_sets(setting, list(sources))
    x, y = batch()
    size = y.shape[1:]
    local = {s: to_local(y, ls) for s, ls in zip(sources, sets)}
    with torch.no_grad():
        got = model.supervised_and_consistency(x, y, dict(local), torch.Generator().manual_seed(5))
        perm = non_identity_permutation(len(sources), torch.Generator().manual_seed(5))
        f = {s: model.features(s, x) for s in sources}
        z = {(b, h): model.head(h, f[b]) for b in sources for h in sources}
        sup = sum(ce(up(z[s, s], size), local[s]) + ce(up(ens([z[s, h] for h in sources], sets), size), y)
                  + ms(up(z[s, s], size)) + ms(up(ens([z[s, h] for h in sources], sets), size)) for s in sources)
        crossed = [z[sources[perm[i]], s] for i, s in enumerate(sources)]
        cmc1 = gap(up(ens([z[s, s] for s in sources], sets), size), up(ens(crossed, sets), size))
        cmc2 = consistency([up(c, size) for c in crossed], sets)
        heads = sum(ce(up(z[s, s], size), local[s]) - sum(gap(up(z[o, s], size), up(z[s, s], size))
                                                          for o in sources if o != s) / (len(sources) - 1)
                    for s in sources)
        backbones = sum(sum(ce(up(z[s, o], size), local[o]) + ms(up(z[s, o], size)) for o in sources if o != s)
                        / (len(sources) - 1) + consistency([up(z[s, h], size) for h in sources], sets)
                        for s in sources)
        assert perm != list(range(len(sources)))
        assert torch.allclose(got['loss_sup'], sup, atol=1e-4)
        assert torch.allclose(got['loss_cmc1'], cmc1, atol=1e-6)
        assert torch.allclose(got['loss_cmc2'], cmc2, atol=1e-5)
        if setting == 'n':
            assert float(got['loss_cmc2']) == 0
        assert torch.allclose(model.head_discrepancy(x, local), heads, atol=1e-4)
        assert torch.allclose(model.backbone_transfer(x, local), backbones, atol=1e-4)
        # Prediction: the mean over backbones of the softmax of the ensemble on it.
        probs = sum(up(ens([z[s, h] for h in sources], sets), size).softmax(1) for s in sources) / len(sources)
        assert torch.allclose(model.probabilities(x), probs, atol=1e-6)


def test_non_identity_permutation_covers_the_others():
    g = torch.Generator().manual_seed(0)
    drawn = {tuple(non_identity_permutation(3, g)) for _ in range(200)}
    assert (0, 1, 2) not in drawn and len(drawn) == 5


class RecordingWrapper(OptimWrapper):
    """An OptimWrapper that records, at each step, which parameters have a gradient."""

    def __init__(self, model, **kwargs):
        super().__init__(torch.optim.SGD(model.parameters(), lr=0.01), **kwargs)
        self.names = {id(p): n for n, p in model.named_parameters()}
        self.steps = []

    def step(self, **kwargs):
        self.steps.append({self.names[id(p)] for g in self.optimizer.param_groups for p in g['params']
                           if p.grad is not None and p.grad.abs().sum() > 0})
        super().step(**kwargs)


def _parts(names):
    """Which kinds of parameters a set of names covers."""
    return {('head' if '.decode_head.' in n else 'final' if n.startswith('final.') else 'backbone')
            + ('' if n.startswith('final.') else ':' + n.split('.')[1]) for n in names}


def _data(x, y):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    img = (x[0] + 110).clamp(0, 255).to(torch.uint8)
    sample = SegDataSample(gt_sem_seg=PixelData(data=y[0][None]), metainfo=dict(img_shape=y.shape[1:],
                                                                             ori_shape=y.shape[1:]))
    return dict(inputs=[img], data_samples=[sample])


def test_stage1_step_moves_the_parameters_of_each_step():
    model = build('UnionSetStage1').train()
    wrapper = RecordingWrapper(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    log = model.train_step(_data(*batch()), wrapper)
    assert set(log) == {'loss_sup', 'loss_cmc1', 'loss_cmc2', 'loss_heads', 'loss_backbones', 'loss'}
    every = {'backbone:gta', 'backbone:synthia', 'head:gta', 'head:synthia'}
    assert [_parts(s) for s in wrapper.steps] == [every, {'head:gta', 'head:synthia'},
                                                  {'backbone:gta', 'backbone:synthia'}]
    assert all(p.requires_grad for p in model.parameters()), 'a frozen head was left frozen'
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters() if n.endswith('conv1.weight'))


# -- stage 2 ------------------------------------------------------------------------------------------------

def test_stage2_losses_and_steps():
    model = build('UnionSetStage2').eval()
    sets = label_sets('p', ['gta', 'synthia'])
    x, y = batch()
    size = y.shape[1:]
    with torch.no_grad():
        ff = model.final_features(x)
        feats = {s: model.features(s, x) for s in ('gta', 'synthia')}
        kl = 0
        for s in ('gta', 'synthia'):
            p = up(model.head(s, feats[s]), size).softmax(1)
            q = up(model.head(s, ff), size).softmax(1)
            kl = kl + (p * (p.log() - q.log())).sum() / (size[0] * size[1])
        assert torch.allclose(model.distillation(x, feats, size), kl / 2, rtol=1e-4)
        final = up(ens([model.head(s, ff) for s in ('gta', 'synthia')], sets), size)
        assert torch.allclose(model.probabilities(x), final.softmax(1), atol=1e-6)
    model.train()
    wrapper = RecordingWrapper(model)
    log = model.train_step(_data(x, y), wrapper)
    assert set(log) == {'loss_final', 'loss_heads', 'loss_kl', 'loss'}
    heads = {'head:gta', 'head:synthia'}
    assert [_parts(s) for s in wrapper.steps] == [heads | {'final'}, heads, {'final'}]
    assert not any(p.requires_grad for b in model.branches.values() for p in b.backbone.parameters())


# -- weights ------------------------------------------------------------------------------------------------

def test_init_weights_reaches_every_branch_and_the_final_backbone(tmp_path):
    """DeepLab_init.pth (every key under `Scale.`, a layer5 of other classes) initialises each branch's backbone
    and stage 2's final backbone; the heads get their N(0, 0.01) initialiser."""
    init_default_scope('mmseg')
    torch.manual_seed(1)
    reference = MODELS.build(dict(BRANCH['backbone']))
    init = {f'Scale.{k}': v for k, v in reference.state_dict().items()}
    init['Scale.layer5.conv2d_list.0.weight'] = torch.zeros(21, 512, 3, 3)
    torch.save(init, tmp_path / 'DeepLab_init.pth')
    branch = dict(BRANCH, backbone=dict(BRANCH['backbone'], pretrained=str(tmp_path / 'DeepLab_init.pth')))
    model = MODELS.build(dict(branch, type='UnionSetStage2', setting='p', sources=['gta', 'synthia']))
    model.init_weights()
    backbones = [b.backbone for b in model.branches.values()] + [model.final]
    for backbone in backbones:
        for key, value in reference.state_dict().items():
            assert torch.equal(backbone.state_dict()[key], value), key
    for b in model.branches.values():
        weight = b.decode_head.aspp_modules[0].conv.weight
        assert 0.008 < float(weight.std()) < 0.012 and float(b.decode_head.aspp_modules[0].conv.bias.abs().max()) == 0

def test_branches_start_from_stage_checkpoints_and_refuse_others(tmp_path):
    source = build('UnionSetSources', held=['gta'])
    torch.save({'state_dict': source.state_dict()}, tmp_path / 'gta.pth')
    joint = build('UnionSetStage1', init_from={'gta': str(tmp_path / 'gta.pth')})
    for key, value in source.state_dict().items():
        assert torch.equal(joint.state_dict()[key], value)
    # A stage checkpoint holds branches.<source>.*; another source's file is refused by name.
    with pytest.raises(UserError, match='holds no synthia model'):
        build('UnionSetStage1', init_from={'synthia': str(tmp_path / 'gta.pth')})
    # A source model of another label set has another head size.
    other = build('UnionSetSources', setting='n', held=['gta'])
    torch.save(other.state_dict(), tmp_path / 'n.pth')
    with pytest.raises(UserError, match='does not fit the gta branch'):
        build('UnionSetStage1', init_from={'gta': str(tmp_path / 'n.pth')})


def test_original_per_source_checkpoint_loads_into_a_branch(tmp_path):
    """{source}_{iter}.pth of the original: conv1/bn1/layer1..4 and layer5.conv2d_list.0..3."""
    source = build('UnionSetSources', held=['gta'])
    original = {}
    for key, value in source.state_dict().items():
        key = key[len('branches.gta.'):]
        if key.startswith('backbone.'):
            original[key[len('backbone.'):]] = value
        else:
            j = key.split('.')[2]
            original[f'layer5.conv2d_list.{j}.{key.split(".")[-1]}'] = value
    for j in (2, 3):
        original[f'layer5.conv2d_list.{j}.weight'] = torch.zeros(16, 512, 3, 3)
        original[f'layer5.conv2d_list.{j}.bias'] = torch.zeros(16)
    torch.save({f'module.{k}': v for k, v in original.items()}, tmp_path / 'gta_80000.pth')
    joint = build('UnionSetStage1', init_from={'gta': str(tmp_path / 'gta_80000.pth')})
    for key, value in source.state_dict().items():
        assert torch.equal(joint.state_dict()[key], value)


# -- pseudo-labels ------------------------------------------------------------------------------------------

class FixedModel(torch.nn.Module):
    """Probabilities read off the image: class = red channel // 50, confidence = green / 255."""

    num_classes = 19

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        from mmseg.models.data_preprocessor import SegDataPreProcessor
        self.data_preprocessor = SegDataPreProcessor(bgr_to_rgb=False)

    def probabilities(self, inputs):
        cls = (inputs[:, 2] // 50).long()
        conf = inputs[:, 1] / 255
        probs = torch.zeros(inputs.shape[0], 19, *inputs.shape[2:])
        probs.scatter_(1, cls[:, None], conf[:, None])
        return probs


def test_pseudo_labels_thresholded_per_class_median(tmp_path):
    root = tmp_path / 'cs/leftImg8bit/train/city'
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        bgr = np.zeros((4, 6, 3), np.uint8)
        bgr[..., 2] = rng.choice([0, 50, 100], size=(4, 6))          # classes 0, 1, 2
        bgr[..., 1] = rng.choice([51, 102, 153, 204, 250], size=(4, 6))  # confidences 0.2 .. 0.98
        cv2.imwrite(str(root / f'city_{i:06d}_000019_leftImg8bit.png'), bgr)
        images.append(bgr)
    dataset = dict(type='CheckedCityscapesDataset', data_root=str(tmp_path / 'cs'),
                   data_prefix=dict(img_path='leftImg8bit/train'),
                   pipeline=[dict(type='LoadImageChecked'), dict(type='PackSegInputs')])
    summary = write_pseudo_labels(FixedModel(), dataset, str(tmp_path / 'pl'), cap=0.9)
    cls = np.stack([im[..., 2] // 50 for im in images])
    conf = np.stack([im[..., 1] / 255 for im in images])
    expected_t = []
    for c in range(3):
        values = np.sort(conf[cls == c])
        expected_t.append(min(values[int(round(0.5 * len(values)))], 0.9))
    got_t = [summary['classes'][str(c)]['threshold'] for c in range(3)]
    assert np.allclose(got_t, expected_t, atol=1e-4)
    for i in range(3):
        label = cv2.imread(str(tmp_path / f'pl/city/city_{i:06d}_000019_psl.png'), cv2.IMREAD_UNCHANGED)
        keep = conf[i] >= np.array(expected_t)[cls[i]] - 1e-6
        assert np.array_equal(label, np.where(keep, cls[i], 255))
    assert not (tmp_path / 'pl/.raw').exists()
    written = json.loads((tmp_path / 'pl/thresholds.json').read_text())
    assert written['images'] == 3 and written['classes']['0']['pixels'] == int((cls == 0).sum())
