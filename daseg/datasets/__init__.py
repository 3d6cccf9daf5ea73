"""Datasets (each checks its layout at load time) and the checked image/label loaders."""
from .acdc import ACDCDataset
from .cityscapes import CheckedCityscapesDataset
from .dark_zurich import CheckedDarkZurichDataset
from .generic import GenericSegDataset
from .gta import GTADataset
from .idd import IDDDataset
from .loading import LoadAnnotationsChecked, LoadImageChecked
from .mapillary import MapillaryCSDataset
from .paste_crops import PasteCropSampler
from .pseudo_margins import PackUDATargetInputs, PseudoMarginMask
from .synscapes import SynscapesDataset
from .synthia import SynthiaDataset
from .samplers import PositionSampler
from .uda_dataset import UDADataset

__all__ = ['ACDCDataset', 'CheckedCityscapesDataset', 'CheckedDarkZurichDataset', 'GenericSegDataset', 'GTADataset',
           'IDDDataset', 'LoadAnnotationsChecked', 'LoadImageChecked', 'MapillaryCSDataset', 'PasteCropSampler',
           'PackUDATargetInputs', 'PseudoMarginMask', 'SynscapesDataset', 'SynthiaDataset', 'PositionSampler',
           'UDADataset']
