"""Training stops at the start, with one line, when the data's classes are not the model's."""
from types import SimpleNamespace

import pytest

from daseg.engine.training_classes import check_training_classes
from daseg.errors import UserError
from speed_models import build_dacs


def dataset(classes):
    return SimpleNamespace(metainfo={'classes': classes} if classes is not None else {})


def test_another_class_count_is_refused_with_both_numbers():
    with pytest.raises(UserError) as exc:
        check_training_classes(SimpleNamespace(num_classes=19), dataset(tuple('abcde')))
    assert str(exc.value) == ('the model predicts 19 classes (decode_head.num_classes) but the training data '
                              "(SimpleNamespace) has 5: set the decode head's num_classes to 5 or train on data "
                              "with the model's classes")


def test_the_same_count_or_no_class_names_pass():
    check_training_classes(SimpleNamespace(num_classes=5), dataset(tuple('abcde')))
    check_training_classes(SimpleNamespace(num_classes=5), dataset(None))


def test_a_uda_wrapper_answers_its_students_class_count():
    model = build_dacs()
    assert model.num_classes == model.model.decode_head.num_classes == 19
