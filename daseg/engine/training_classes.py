"""The training data must have the model's classes: labels beyond the head's outputs would otherwise end in the
cross-entropy's index error at the first iteration, and fewer classes would leave outputs never trained."""
from ..errors import UserError


def check_training_classes(model, dataset) -> None:
    """Raise :class:`UserError` unless ``dataset`` (its metainfo's ``classes``; for a UDA dataset, the source's)
    has ``model.num_classes`` classes. Datasets that name no classes are not checked."""
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if classes is None or len(classes) == model.num_classes:
        return
    raise UserError(f'the model predicts {model.num_classes} classes (decode_head.num_classes) but the training data '
                    f"({type(dataset).__name__}) has {len(classes)}: set the decode head's num_classes to "
                    f"{len(classes)} or train on data with the model's classes")
