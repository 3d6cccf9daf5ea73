"""The HRDA and model-merging configs build their segmentor and state the original settings (ORIGINALS sections 2
and 3): scales, detail crop, attention, test windows, EMA alpha, pseudo-label margins, seed, resolutions."""
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from daseg.cli import load_config
from entry_points import ROOT

CS_MARGINS = [30, 240, 30, 30]
# config -> (encoder, EMA alpha, pseudo-label margins, training crop, fused test window, deterministic)
EXPECTED = {
    'hrda/gtaHR2csHR_hrda_mitb5.py': ('mitb5', 0.999, CS_MARGINS, 1024, 1024, False),
    'hrda/synthiaHR2csHR_hrda_mitb5.py': ('mitb5', 0.999, CS_MARGINS, 1024, 1024, False),
    'hrda/csHR2acdcHR_hrda_mitb5.py': ('mitb5', 0.999, None, 1024, 1024, False),
    'hrda/csHR2dzurHR_hrda_mitb5.py': ('mitb5', 0.999, None, 1024, 1024, False),
    'merging/gtaHR2csHR_hrda_mitb5.py': ('mitb5', 0.999, CS_MARGINS, 1024, 1024, True),
    'merging/gtaHR2iddHR_hrda_mitb5.py': ('mitb5', 0.999, CS_MARGINS, 1024, 512, True),
    'merging/gtaHR2acdcHR_hrda_mitb5.py': ('mitb5', 0.999, None, 512, 512, True),
    'merging/gtaHR2darkzurichHR_hrda_mitb5.py': ('mitb5', 0.999, None, 1024, 1024, True),
    'merging/gtaHR2csHR_hrda_r101.py': ('r101', 0.0, CS_MARGINS, 1024, 1024, True),
    'merging/gtaHR2iddHR_hrda_r101.py': ('r101', 0.0, CS_MARGINS, 1024, 512, True),
    'merging/gtaHR2acdcHR_hrda_r101.py': ('r101', 0.999, None, 512, 512, True),
    'merging/gtaHR2darkzurichHR_hrda_r101.py': ('r101', 0.999, None, 512, 512, True),
}


def _crop_size(pipeline):
    return next(step['crop_size'] for step in pipeline if step['type'] == 'RandomCrop')


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_hrda_experiment_config(name):
    encoder, alpha, margins, crop, test_window, deterministic = EXPECTED[name]
    init_default_scope('mmseg')
    cfg = load_config(str(ROOT / 'configs' / name))
    uda = cfg.model
    assert uda.type == 'DACS' and uda.alpha == alpha and 'crop_pseudo_margins' not in uda
    assert uda.imnet_feature_dist_lambda == 0.005 and uda.pseudo_threshold == 0.968
    assert uda.pseudo_weight_ignore_top == 0 and uda.pseudo_weight_ignore_bottom == 0
    assert cfg.randomness.seed == 1 and cfg.randomness.get('deterministic', False) == deterministic
    data = cfg.train_dataloader.dataset
    # The margins belong to the full target image: written before the crop, packed for the teacher.
    written = [step['margins'] for step in data.target.pipeline if step['type'] == 'PseudoMarginMask']
    assert written == ([margins] if margins else [])
    if margins:
        steps = [step['type'] for step in data.target.pipeline]
        assert steps.index('PseudoMarginMask') < steps.index('RandomCrop') and steps[-1] == 'PackUDATargetInputs'
    assert _crop_size(data.source.pipeline) == _crop_size(data.target.pipeline) == (crop, crop)
    assert data.rare_class_sampling.min_crop_ratio == 2.0
    assert tuple(uda.model.data_preprocessor.size) == (crop, crop)

    model = MODELS.build(uda.model)
    assert (model.lr_scale, model.hr_scale) == (0.5, 1.0)
    assert model.hr_crop_size == (512, 512) and model.crop_coord_divisible == 8 and model.feature_scale == 0.5
    assert model.hr_slide_inference and model.hr_slide_overlapping
    head = model.decode_head
    assert head.hr_loss_weight == 0.1 and head.scale_attention.conv_seg.out_channels == 19
    assert type(head.head).__name__ == 'DAFormerHead'
    assert model.test_cfg.mode == 'slide' and model.test_cfg.batched_slide
    assert list(model.test_cfg.crop_size) == [test_window] * 2
    assert list(model.test_cfg.stride) == [512, 512]
    if encoder == 'r101':
        backbone = model.backbone
        assert type(backbone).__name__ == 'CheckedResNetV1c' and backbone.depth == 101
        assert backbone.pretrained == 'pretrained/resnet101_v1c-e67eebb6.pth'
        assert backbone.dilations == (1, 1, 2, 4) and backbone.strides == (1, 2, 1, 1)
        assert backbone.contract_dilation and not backbone.norm_eval
        assert head.head.in_channels == [256, 512, 1024, 2048]
    else:
        assert type(model.backbone).__name__ == 'MiT' and model.backbone.num_layers == [3, 6, 40, 3]


def test_demo_hrda_config_is_small():
    init_default_scope('mmseg')
    cfg = load_config(str(ROOT / 'configs/demo/gta2cityscapes_hrda.py'))
    model = MODELS.build(cfg.model.model)
    assert type(model).__name__ == 'HRDAEncoderDecoder' and model.hr_crop_size == (64, 64)
    assert type(model.backbone).__name__ == 'MiT' and model.backbone.embed_dims == 32  # MiT-B0
    assert model.decode_head.head.channels == 64 and model.decode_head.scale_attention.channels == 64
    assert list(model.test_cfg.crop_size) == [128, 128] and cfg.train_cfg.max_iters == 400
    assert sum(p.numel() for p in model.parameters()) < 5e6
