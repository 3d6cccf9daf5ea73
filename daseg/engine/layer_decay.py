"""Layer-wise learning-rate decay (BEiT, MAE, ConvNeXt fine-tuning) with merged parameter groups.

mmseg's ``LearningRateDecayOptimizerConstructor`` reads ``module.backbone`` and names starting with
``backbone.``, so it cannot see the student inside a UDA wrapper (``model.backbone...``), hands frozen teachers'
names to its rules and keeps one group per layer and decay setting without the config's ``custom_keys``.
:class:`LayerDecayOptimWrapperConstructor` uses mmseg's layer-id rules on each trainable parameter's name from
``backbone.`` on, multiplies the learning rate that ``custom_keys`` give (e.g. the head at 10x) by
``decay_rate ** (num_layers + 1 - layer_id)`` (mmseg's scale), puts no weight decay on biases, 1-d tensors and
the position/class tokens (as mmseg), and merges equal groups as
:class:`~daseg.engine.param_groups.MergedGroupsOptimWrapperConstructor` does.

    optim_wrapper = dict(constructor='LayerDecayOptimWrapperConstructor', optimizer=dict(type='AdamW', lr=6e-5),
                         paramwise_cfg=dict(num_layers=12, decay_rate=0.9, custom_keys={'head': dict(lr_mult=10.)}))
"""
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.engine.optimizers.layer_decay_optimizer_constructor import (get_layer_id_for_convnext,
                                                                       get_layer_id_for_vit)

from ..errors import UserError
from .param_groups import MergedGroupsOptimWrapperConstructor

# Parameters mmseg never decays beyond biases and 1-d tensors.
NO_DECAY = ('backbone.pos_embed', 'backbone.cls_token', 'backbone.mask_token')


def layer_id(name: str, backbone_type: str, num_layers: int) -> int:
    """mmseg's layer id of a parameter named from ``backbone.`` on (anything else: above the last layer)."""
    if 'ConvNeXt' in backbone_type:
        return get_layer_id_for_convnext(name, num_layers)
    if 'BEiT' in backbone_type or 'MAE' in backbone_type:
        return get_layer_id_for_vit(name, num_layers + 2)
    raise UserError(f'layer-wise learning-rate decay: no layer rule for backbone {backbone_type} '
                    '(BEiT, MAE and ConvNeXt have one)')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(MergedGroupsOptimWrapperConstructor):
    """Merged groups with layer-wise decay (see the module docstring).

    ``paramwise_cfg`` takes ``num_layers`` (the backbone's layer count, 12 for ViT-B) and ``decay_rate`` (mmseg's
    BEiT configs 0.9, MAE 0.65) besides mmengine's keys.
    """

    def __init__(self, optim_wrapper_cfg, paramwise_cfg=None):
        paramwise_cfg = dict(paramwise_cfg or {})
        try:
            self.num_layers = int(paramwise_cfg.pop('num_layers'))
            self.decay_rate = float(paramwise_cfg.pop('decay_rate'))
        except KeyError as missing:
            raise UserError(f'LayerDecayOptimWrapperConstructor: paramwise_cfg needs {missing} '
                            '(e.g. num_layers=12, decay_rate=0.9)') from None
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def adjust_groups(self, groups, module):
        student = getattr(module, 'model', module)
        backbone_type = type(student.backbone).__name__
        names = {id(p): n for n, p in module.named_parameters()}
        for group in groups:
            (param,) = group['params']
            name = names[id(param)]
            name = name[name.find('backbone.'):] if 'backbone.' in name else name
            scale = self.decay_rate ** (self.num_layers + 1 - layer_id(name, backbone_type, self.num_layers))
            group['lr'] = group.get('lr', self.base_lr) * scale
            if param.ndim == 1 or name.endswith('.bias') or name in NO_DECAY:
                group['weight_decay'] = 0.0
        return groups
