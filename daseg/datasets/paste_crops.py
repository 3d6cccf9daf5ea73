"""Source crops of rare classes for copy-paste onto the mixed images (the model side is
`daseg.models.uda.rare_class_paste.RareClassPaste`).

For every item, `PasteCropSampler.sample` draws `num_classes` distinct classes from `classes`, and for each a
source sample that holds more than `min_pixels` pixels of it (from `samples_with_class.json`, as rare-class
sampling), re-cropped until the crop shows enough of the class (`ClassCropLoader.load_crop`). Each crop goes
through the source pipeline, so it is resized, cropped and flipped like a source image and later normalised by
the same data preprocessor; its data sample records the class in the metainfo key `paste_class`.

Randomness: numpy's global generator, which `UDADataset` seeds from (seed, position) for every item; the crops
are drawn after the item's source and target, which are therefore those of a run without paste.
"""
import logging

import numpy as np
from mmengine.logging import print_log

from ..errors import UserError
from .rare_class_sampling import ClassCropLoader

# rider, bus, train, motorcycle, bicycle (Cityscapes trainIds), the classes the CLUDA-style fork pasted.
PASTE_CLASSES = (12, 15, 16, 17, 18)
PASTE_OPTIONS = ('classes', 'num_classes', 'min_pixels', 'min_crop_ratio', 'max_attempts')


class PasteCropSampler(ClassCropLoader):
    """Crops of source samples that show drawn classes (see the module docstring).

    Args:
        source: Built source dataset (`data_root` holding the rare-class statistics, labelled samples).
        classes (Sequence[int]): Classes (trainIds) that may be pasted. Defaults to `PASTE_CLASSES`.
        num_classes (int): Distinct classes drawn for each item (one crop each). Defaults to 2.
        min_pixels, min_crop_ratio, max_attempts: As `RareClassSampler` (3000, 0.5, 10).

    Attributes:
        classes (list[int]): The configured classes that some source file holds (more than min_pixels pixels).
        num_classes (int): Crops per item: `num_classes`, or fewer if fewer classes are available.
    """

    def __init__(self, source, classes=PASTE_CLASSES, num_classes=2, min_pixels=3000, min_crop_ratio=0.5,
                 max_attempts=10):
        classes = [int(c) for c in classes]
        if not 1 <= num_classes <= len(set(classes)):
            raise UserError(f'paste.num_classes must be between 1 and the number of paste.classes '
                            f'({len(set(classes))}), got {num_classes}')
        super().__init__(source, min_pixels, min_crop_ratio, max_attempts, purpose='rare-class paste',
                         option='paste')
        self.classes = [c for c in dict.fromkeys(classes) if c in self.class_samples]
        absent = [c for c in dict.fromkeys(classes) if c not in self.class_samples]
        if not self.classes:
            raise UserError(f'rare-class paste: no file of {type(source).__name__} has more than '
                            f'min_pixels={min_pixels} pixels of any of the classes {classes}; lower '
                            'paste.min_pixels or choose other paste.classes')
        if absent:
            print_log(f'rare-class paste: no file of {type(source).__name__} has more than min_pixels={min_pixels} '
                      f'pixels of class(es) {absent}; they are never pasted', logger='current',
                      level=logging.WARNING)
        self.num_classes = min(num_classes, len(self.classes))

    def sample(self):
        """Draw the item's classes and one crop of each.

        Returns:
            list[dict]: `num_classes` packed source samples (`inputs`, `data_samples` with `paste_class`).
        """
        crops = []
        for c in np.random.choice(self.classes, self.num_classes, replace=False):
            crop = self.load_crop(self.sample_index(int(c)), int(c))
            crop['data_samples'].set_metainfo(dict(paste_class=int(c)))
            crops.append(crop)
        return crops
