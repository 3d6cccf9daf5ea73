"""Small segmentors with trained-looking weights for the merging tests."""
import torch
from mmengine.registry import init_default_scope

import daseg  # noqa: F401  (registers the project's models)
from mmseg.registry import MODELS

BN = dict(type='BN', requires_grad=True)
# Tiny ResNetV1c-50 (bottlenecks, V1c stem, dilated last stages as in the R101 configs): widths 16..128.
RESNET = dict(type='ResNetV1c', depth=50, stem_channels=8, base_channels=4, num_stages=4, out_indices=(0, 1, 2, 3),
              dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=BN, norm_eval=False, contract_dilation=True)
WIDTHS = [16, 32, 64, 128]


def daformer_head(in_channels, num_classes=5):
    return dict(type='DAFormerHead', in_channels=list(in_channels), in_index=list(range(len(in_channels))),
                channels=8, dropout_ratio=0.1, num_classes=num_classes, norm_cfg=BN, align_corners=False,
                decoder_params=dict(embed_dims=8, fusion_cfg=dict(
                    type='aspp', sep=True, dilations=(1, 2, 3), pool=False, act_cfg=dict(type='ReLU'),
                    norm_cfg=BN)))


def dlv2_head(in_channels, num_classes=5):
    return dict(type='DLV2Head', in_channels=in_channels[-1], in_index=3, dilations=(1, 2),
                num_classes=num_classes, align_corners=False)


def build_segmentor(backbone=RESNET, in_channels=WIDTHS, seed=0, head=daformer_head):
    """An EncoderDecoder with random weights AND random BatchNorm statistics, in eval mode."""
    init_default_scope('mmseg')
    torch.manual_seed(seed)
    model = MODELS.build(dict(type='EncoderDecoder', backbone=backbone, decode_head=head(in_channels),
                              data_preprocessor=dict(type='SegDataPreProcessor')))
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('running_var'):
                tensor.copy_(torch.rand_like(tensor) + 0.5)
            elif name.endswith('num_batches_tracked'):
                tensor.fill_(int(torch.randint(1, 100, ())))
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn_like(tensor) * 0.3)
    return model.eval()


def logits(model, x):
    with torch.no_grad():
        return model.decode_head(model.extract_feat(x))
