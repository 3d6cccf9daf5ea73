from .daformer_head import DAFormerHead
from .dlv2_adapter_head import DLV2AdapterHead
from .dlv2_head import DLV2Head
from .hrda_head import HRDAHead
from .mmseg_heads import FCNLabelHead, UPerLabelHead

__all__ = ['DAFormerHead', 'DLV2AdapterHead', 'DLV2Head', 'HRDAHead', 'FCNLabelHead', 'UPerLabelHead']
