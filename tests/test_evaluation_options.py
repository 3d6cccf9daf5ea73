"""Evaluation options: --tta (multi-scale + flip), --pred-dir (raw trainIds), --test-set (ACDC / Dark Zurich test
splits, predicted without labels), on stub segmentors whose outputs are known by hand."""
import inspect
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from daseg.errors import UserError
from daseg.evaluation import TTA_RATIOS, run_test, to_test_split, tta_predict
from daseg.weights import EVALUABLE
from entry_points import load_script
from evaluation_command import run_evaluation
from hrda_models import build_tiny_hrda


class _Stub(BaseSegmentor):
    """A segmentor that is a function of its input alone: subclasses define ``encode_decode``."""

    def predict(self, inputs, data_samples=None):
        return self.postprocess_result(self.encode_decode(inputs), data_samples)

    def extract_feat(self, inputs):
        raise NotImplementedError

    def loss(self, inputs, data_samples):
        raise NotImplementedError

    def _forward(self, inputs, data_samples=None):
        raise NotImplementedError


class _SizeOrSide(_Stub):
    """Two classes; class 0 has logit 0, class 1 a logit set by ``mode``:

    * 'size': log(h), h the height of the input it is given, everywhere: p1 = h / (h + 1);
    * 'side': +4 left of its input's centre column, -4 right of it, 0 on it (odd widths): antisymmetric in x.
    """

    def __init__(self, mode):
        super().__init__()
        self.mode, self.align_corners = mode, False

    def encode_decode(self, inputs, batch_img_metas=None):
        n, _, h, w = inputs.shape
        if self.mode == 'size':
            one = torch.full((n, 1, h, w), math.log(h))
        else:
            one = (4 * torch.sign((w - 1) / 2 - torch.arange(w, dtype=torch.float32))).expand(n, 1, h, w)
        return torch.cat([torch.zeros_like(one), one], dim=1)


def _samples(ori_shape, n=1):
    return [SegDataSample(metainfo=dict(ori_shape=ori_shape, img_shape=(8, 12), padding_size=[0, 0, 0, 0]))
            for _ in range(n)]


def test_tta_averages_the_softmax_of_six_sizes_of_the_test_size_back_at_the_original_size():
    # The test pipeline made a 16x24 image 8x12: the sizes are 4, 6, 8, 10, 12, 14 rows, each seen twice.
    samples = tta_predict(_SizeOrSide('size'), torch.zeros(2, 3, 8, 12), _samples((16, 24), n=2))
    expected = sum(h / (h + 1) for h in (4, 6, 8, 10, 12, 14)) / 6
    for sample in samples:
        probs = sample.seg_logits.data
        assert probs.shape == (2, 16, 24)
        torch.testing.assert_close(probs[1], torch.full((16, 24), expected))
        torch.testing.assert_close(probs.sum(0), torch.ones(16, 24))
        assert sample.pred_sem_seg.data.shape == (1, 16, 24) and bool((sample.pred_sem_seg.data == 1).all())
    assert TTA_RATIOS == (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def test_tta_undoes_each_flip_before_averaging():
    stub = _SizeOrSide('side')
    probs = tta_predict(stub, torch.zeros(1, 3, 8, 12), _samples((8, 12)))[0].seg_logits.data
    # A view and its flipped twin, flipped back, add up to p1 = sigmoid(s) + sigmoid(-s) = 1 at every pixel.
    torch.testing.assert_close(probs[1], torch.full((8, 12), 0.5))
    unflipped = tta_predict(stub, torch.zeros(1, 3, 8, 12), _samples((8, 12)), flip=False)[0].seg_logits.data
    assert bool((unflipped[1, :, :6] > 0.5).all()) and bool((unflipped[1, :, 6:] < 0.5).all())


def test_tta_fits_hrda_and_one_unflipped_view_is_plain_prediction(one_thread):
    # 128 pixels: the context branch of the 0.5 view (32 pixels) is the least MiT accepts.
    model = build_tiny_hrda(test_cfg=dict(mode='whole'), hr_slide_inference=False).eval()
    image = torch.randn(1, 3, 128, 128)
    meta = dict(ori_shape=(128, 128), img_shape=(128, 128), padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        plain = model.predict(image, [SegDataSample(metainfo=meta)])[0].seg_logits.data.softmax(0)
        single = tta_predict(model, image, [SegDataSample(metainfo=meta)], ratios=(1.0,), flip=False)
        full = tta_predict(model, image, [SegDataSample(metainfo=meta)])
    torch.testing.assert_close(single[0].seg_logits.data, plain)
    probs = full[0].seg_logits.data
    assert probs.shape == (19, 128, 128) and not torch.allclose(probs, plain)
    torch.testing.assert_close(probs.sum(0), torch.ones(128, 128))


@MODELS.register_module(force=True)
class _ShadeSegmentor(_Stub):
    """Predicts class round(v / 16) where v is the pixel's mean over channels (0..255 -> 0..16); counts calls."""

    calls = 0

    def __init__(self, data_preprocessor=None, test_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.scale = torch.nn.Parameter(torch.ones(()))  # a weight for the checkpoint
        self.align_corners = False
        self.decode_head = torch.nn.Module()
        self.decode_head.num_classes = 19

    def encode_decode(self, inputs, batch_img_metas=None):
        type(self).calls += 1
        level = inputs.mean(1, keepdim=True) / 16 * self.scale
        return -(torch.arange(19, dtype=torch.float32).view(1, 19, 1, 1) - level) ** 2


def _write_image(path, levels):
    """An RGB image whose three channels equal 16 x levels: the stub predicts ``levels``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.repeat((16 * levels).astype(np.uint8)[..., None], 3, axis=2)).save(path)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('eval_options')
    rng = np.random.default_rng(0)
    levels = {}
    # Cityscapes val (labelled), ACDC fog test and Dark Zurich night test (no labels): 4x6 images.
    cs = tmp / 'cs' / 'leftImg8bit' / 'val' / 'aachen' / 'aachen_000000_000019_leftImg8bit.png'
    acdc = tmp / 'acdc' / 'rgb_anon' / 'fog' / 'test' / 'GOPR0475' / 'GOPR0475_frame_000001_rgb_anon.png'
    dz = tmp / 'dz' / 'rgb_anon' / 'test' / 'night' / 'GOPR0364' / 'GOPR0364_frame_000001_rgb_anon.png'
    for path in (cs, acdc, dz):
        levels[path] = rng.integers(0, 16, (4, 6))
        _write_image(path, levels[path])
    label = tmp / 'cs' / 'gtFine' / 'val' / 'aachen' / 'aachen_000000_000019_gtFine_labelTrainIds.png'
    label.parent.mkdir(parents=True)
    Image.fromarray(levels[cs].astype(np.uint8)).save(label)
    pipeline = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]
    targets = dict(
        cityscapes=dict(type='CheckedCityscapesDataset', data_root=str(tmp / 'cs'), pipeline=pipeline,
                        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val')),
        acdc=dict(type='ACDCDataset', data_root=str(tmp / 'acdc'), split='val', conditions=('fog',),
                  pipeline=pipeline),
        darkzurich=dict(type='CheckedDarkZurichDataset', data_root=str(tmp / 'dz'), pipeline=pipeline,
                        data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night')))
    model = dict(type='_ShadeSegmentor', data_preprocessor=dict(type='SegDataPreProcessor', bgr_to_rgb=True))
    Config(dict(default_scope='mmseg', model=model, eval_targets=targets)).dump(str(tmp / 'shade.py'))
    torch.save({'state_dict': {'scale': torch.ones(())}}, str(tmp / 'shade.pth'))
    return dict(tmp=tmp, levels=levels, config=str(tmp / 'shade.py'), checkpoint=str(tmp / 'shade.pth'),
                cs=cs, acdc=acdc, dz=dz)


def _written(path):
    image = Image.open(path)
    assert image.mode == 'L'
    return np.asarray(image)


def _evaluate(setup, **options):
    return run_evaluation(setup['config'], setup['checkpoint'], device='cpu', workers=0, **options)


def test_pred_dir_writes_the_argmax_of_the_model_in_the_image_tree(setup):
    preds, out = setup['tmp'] / 'preds', setup['tmp'] / 'out'
    results, out_dir = _evaluate(setup, targets=['cityscapes'], pred_dir=str(preds), out=str(out))
    written = _written(preds / 'cityscapes' / 'aachen' / 'aachen_000000_000019_leftImg8bit.png')
    np.testing.assert_array_equal(written, setup['levels'][setup['cs']])
    # The label equals the prediction: every class present is right.
    assert results['checkpoints'][0]['targets']['cityscapes']['mIoU'] == 100.0 and out_dir == str(out)
    assert results['tta'] is False


def test_test_set_predicts_the_acdc_and_dark_zurich_test_images_without_labels(setup, capsys):
    with pytest.raises(UserError, match='target acdc, darkzurich has no labels .* pass --pred-dir DIR'):
        _evaluate(setup, targets=['acdc', 'darkzurich'], test_set=True)
    preds = setup['tmp'] / 'submission'
    show = setup['tmp'] / 'show'
    results, out_dir = _evaluate(setup, targets=['acdc', 'darkzurich'], test_set=True, pred_dir=str(preds),
                                 show_dir=str(show), out=str(setup['tmp'] / 'unused'))
    acdc = preds / 'acdc' / 'fog' / 'test' / 'GOPR0475' / 'GOPR0475_frame_000001_rgb_anon.png'
    dz = preds / 'darkzurich' / 'GOPR0364' / 'GOPR0364_frame_000001_rgb_anon.png'
    assert sorted(preds.rglob('*.png')) == [acdc, dz]
    np.testing.assert_array_equal(_written(acdc), setup['levels'][setup['acdc']])
    np.testing.assert_array_equal(_written(dz), setup['levels'][setup['dz']])
    canvas = np.asarray(Image.open(show / 'acdc' / 'GOPR0475_frame_000001_rgb_anon.png'))
    assert canvas.shape == (4, 2 * 6, 3)  # image | prediction: no label to show
    assert results['targets'] == [] and results['predicted_only'] == ['acdc', 'darkzurich'] and out_dir is None
    assert not (setup['tmp'] / 'unused').exists()
    out = capsys.readouterr().out
    assert 'target acdc: no labels, predictions only (no metric)' in out and 'no metric computed' in out


def test_tta_option_predicts_twelve_views_per_image(setup):
    _ShadeSegmentor.calls = 0
    results, _ = _evaluate(setup, targets=['acdc', 'darkzurich'], test_set=True, tta=True,
                           pred_dir=str(setup['tmp'] / 'tta'))
    assert _ShadeSegmentor.calls == 2 * 12 and results['tta'] is True  # two images, six sizes, each flipped


def test_test_split_swaps_val_for_test_and_drops_the_labels():
    pipeline = [dict(type='LoadImageChecked'), dict(type='LoadAnnotationsChecked'), dict(type='PackSegInputs')]
    acdc = to_test_split('acdc', dict(type='ACDCDataset', data_root='data/acdc', split='val', pipeline=pipeline))
    assert acdc['split'] == 'test' and acdc['data_prefix'] == dict(img_path='rgb_anon')
    assert [step['type'] for step in acdc['pipeline']] == ['LoadImageChecked', 'PackSegInputs']
    dz = to_test_split('dz', dict(type='CheckedDarkZurichDataset', pipeline=pipeline,
                                  data_prefix=dict(img_path='rgb_anon/val/night', seg_map_path='gt/val/night')))
    assert dz['data_prefix'] == dict(img_path='rgb_anon/test/night')
    with pytest.raises(UserError, match="target gta: --test-set found no 'val' split"):
        to_test_split('gta', dict(type='GTADataset', data_prefix=dict(img_path='images'), pipeline=pipeline))
    with pytest.raises(UserError, match='cannot swap the split of an ann_file'):
        to_test_split('gta', dict(type='GTADataset', ann_file='val.txt', pipeline=pipeline))


def test_the_script_s_options_are_run_test_s_keywords():
    """tools/test.py parses without importing the package and passes its options to run_test by name."""
    script = load_script('tools/test')
    assert script.SUB_MODELS == EVALUABLE
    options = set(vars(script.parse_args(['config.py', '--tta', '--test-set']))) - {'config', 'cfg_options'}
    assert options <= set(inspect.signature(run_test).parameters)
