"""``--test-set``: a target's validation dataset config turned into its test split, without labels.

As the originals' ``--test-set`` (every 'val' in the test dataset's paths becomes 'test'): the test labels of
ACDC and Dark Zurich are not public, so the test split is predicted, not evaluated.
"""
import copy
import inspect

from mmseg.registry import DATASETS

from ..errors import UserError

_VAL, _TEST = 'val', 'test'


def _swap_split(path):
    """``path`` with each folder named 'val' renamed 'test'; None when it has none."""
    parts = str(path).split('/')
    return '/'.join(_TEST if p == _VAL else p for p in parts) if _VAL in parts else None


def _default_data_prefix(dataset_type):
    """The ``data_prefix`` a dataset class uses when its config gives none (e.g. ACDC's rgb_anon/ and gt/)."""
    cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    parameter = inspect.signature(cls.__init__).parameters.get('data_prefix') if cls else None
    default = parameter.default if parameter is not None else inspect.Parameter.empty
    return dict(default) if isinstance(default, dict) else dict(img_path='')


def unlabelled(pipeline):
    """The pipeline without its annotation loading step(s)."""
    return [step for step in pipeline if 'LoadAnnotations' not in str(step.get('type', ''))]


def to_test_split(name, dataset_cfg):
    """The test split of a target's dataset config: 'val' becomes 'test' in ``split`` and in the image path;
    labels and the annotation loading are dropped.

    Args:
        name (str): the target, for messages.
        dataset_cfg (dict): its dataset config (validation split).

    Returns:
        dict: a new dataset config.

    Raises:
        UserError: neither ``split`` nor ``data_prefix.img_path`` names a 'val' split (an ``ann_file`` lists
            the images instead: give the test split's own target).
    """
    cfg = copy.deepcopy(dict(dataset_cfg))
    if cfg.get('ann_file'):
        raise UserError(f'target {name}: --test-set cannot swap the split of an ann_file list ({cfg["ann_file"]}); '
                        'define a target for the test images')
    prefix = dict(cfg.get('data_prefix') or _default_data_prefix(cfg.get('type')))
    swapped = False
    if cfg.get('split') == _VAL:
        cfg['split'], swapped = _TEST, True
    image_path = _swap_split(prefix.get('img_path', ''))
    if image_path is not None:
        prefix['img_path'], swapped = image_path, True
    if not swapped:
        raise UserError(f"target {name}: --test-set found no 'val' split to swap for 'test' in its split or "
                        f"image path ({prefix.get('img_path')!r})")
    prefix.pop('seg_map_path', None)
    cfg['data_prefix'] = prefix
    cfg['pipeline'] = unlabelled(cfg.get('pipeline', []))
    return cfg
