"""DACS self-training with an EMA teacher (the DAFormer / HRDA recipe) as a preset of UDA components.

``DACS`` = teachers ``ema_model`` (EMA, pseudo-labels) and, with the feature distance, ``imnet_model`` (frozen
ImageNet model), and the components [``SourceSupervision`` (source loss + ImageNet feature distance, one backward
pass), ``ClassMixSelfTraining`` (ClassMix + colour jitter + blur against the teacher's pseudo-labels)], followed
by any ``components`` the config adds, e.g. MIC::

    model = dict(type='DACS', model=..., alpha=0.999,
                 components=[dict(type='MaskedConsistency', mask_mode='separatetrgaug',
                                  mask_generator=dict(type='block', mask_ratio=0.7, mask_block_size=64))])

The three additions of the CLUDA-style fork (reference/ORIGINALS_2.md section 1.2), each as its name promises::

    model = dict(type='DACS', model=..., alpha=0.999,
                 mixed_transforms=[dict(type='RareClassPaste')],     # paste (+ UDADataset(paste=dict()))
                 mix_loss_weight=0.9,                                 # soft: 0.9 x mixed loss ...
                 components=[dict(type='TargetConsistency', loss_weight=0.1),  # ... + 0.1 x unmixed target
                             dict(type='FeatureMMD', loss_weight=0.05)])      # mmd

With an HRDA segmentor every part uses its multi-resolution losses and inference (the segmentor's
``loss_by_label`` and ``pseudo_logits``); HRDA's pseudo-label margins are a transform of the target pipeline
(``PseudoMarginMask``), applied to the full image before the random crop.
"""
from mmseg.registry import MODELS

from ...errors import UserError
from .feature_distance import THING_CLASSES
from .wrapper import UDAWrapper


@MODELS.register_module()
class DACS(UDAWrapper):
    """DACS as a :class:`UDAWrapper` preset (see the module docstring).

    Args:
        model (dict): config of the segmentor (e.g. an EncoderDecoder or HRDAEncoderDecoder).
        alpha (float): EMA momentum of the teacher.
        pseudo_threshold (float): softmax confidence that counts a target pixel as reliable.
        pseudo_weight_ignore_top (int): rows at the top of the target crop whose pseudo weight is 0.
        pseudo_weight_ignore_bottom (int): rows at the bottom of the target crop whose pseudo weight is 0.
        imnet_feature_dist_lambda (float): weight of the ImageNet feature distance; 0 disables it.
        imnet_feature_dist_classes (tuple[int]): classes whose pixels the feature distance covers.
        imnet_feature_dist_scale_min_ratio (float): majority share for downscaling labels to feature size.
        color_jitter_strength (float): brightness/contrast/saturation/hue strength of the jitter.
        color_jitter_probability (float): the jitter applies when a uniform draw exceeds this value.
        blur (bool): Gaussian blur of the mixed images (applied with probability 0.5).
        mix_loss_weight (float): factor of the ClassMix losses (``ClassMixSelfTraining.loss_weight``). Default 1.0.
        mixed_transforms (Sequence[dict]): transforms of the mixed batch before its colour jitter and blur, e.g.
            ``RareClassPaste`` (``ClassMixSelfTraining.mixed_transforms``). Default none.
        components (list[dict]): further components, run after the two of DACS (e.g. ``MaskedConsistency``).
        init_cfg (dict, optional): mmengine init config.
        pretrained, train_cfg: None only (what ``mmseg.apis.init_model`` sets), see :class:`UDAWrapper`.
    """

    def __init__(self, model: dict, alpha: float = 0.999, pseudo_threshold: float = 0.968,
                 pseudo_weight_ignore_top: int = 0, pseudo_weight_ignore_bottom: int = 0,
                 imnet_feature_dist_lambda: float = 0.0, imnet_feature_dist_classes=THING_CLASSES,
                 imnet_feature_dist_scale_min_ratio: float = 0.75, color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2, blur: bool = True, mix_loss_weight: float = 1.0,
                 mixed_transforms=(), components=(), init_cfg=None, pretrained=None, train_cfg=None):
        fd = imnet_feature_dist_lambda > 0
        if fd and not _has_pretrained_backbone(model):
            raise UserError('imnet_feature_dist_lambda > 0 needs ImageNet weights for the backbone '
                            '(model.model.backbone.pretrained); set the lambda to 0 to train without them')
        teachers = dict(ema_model=dict(
            type='EMATeacher', alpha=alpha, pseudo_threshold=pseudo_threshold,
            pseudo_weight_ignore_top=pseudo_weight_ignore_top,
            pseudo_weight_ignore_bottom=pseudo_weight_ignore_bottom))
        if fd:
            teachers['imnet_model'] = dict(type='FrozenTeacher')
        parts = [
            dict(type='SourceSupervision', imnet_teacher='imnet_model' if fd else None,
                 feature_dist_lambda=imnet_feature_dist_lambda, feature_dist_classes=imnet_feature_dist_classes,
                 feature_dist_scale_min_ratio=imnet_feature_dist_scale_min_ratio),
            dict(type='ClassMixSelfTraining', teacher='ema_model', color_jitter_strength=color_jitter_strength,
                 color_jitter_probability=color_jitter_probability, blur=blur, loss_weight=mix_loss_weight,
                 mixed_transforms=list(mixed_transforms)),
        ]
        super().__init__(model, teachers=teachers, components=parts + list(components), init_cfg=init_cfg,
                         pretrained=pretrained, train_cfg=train_cfg)


def _has_pretrained_backbone(model: dict) -> bool:
    backbone = model.get('backbone', {})
    return bool(backbone.get('pretrained') or backbone.get('init_cfg'))
