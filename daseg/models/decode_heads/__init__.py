from .daformer_head import DAFormerHead
from .dlv2_head import DLV2Head
from .hrda_head import HRDAHead
from .mmseg_heads import FCNLabelHead, UPerLabelHead

__all__ = ['DAFormerHead', 'DLV2Head', 'HRDAHead', 'FCNLabelHead', 'UPerLabelHead']
