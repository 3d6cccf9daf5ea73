"""Tiny demo data for the tests: a few small images of chosen demo domains, converted as `make demo-data` does."""
from functools import partial

from daseg.datasets.convert.cityscapes import convert_cityscapes
from daseg.datasets.convert.gta import convert_gta
from daseg.datasets.convert.synscapes import convert_synscapes
from daseg.datasets.convert.synthia import convert_synthia
from daseg.demo.domains import DOMAINS_BY_NAME
from daseg.demo.generate import generate

_CONVERTERS = dict(gta=convert_gta, synthia=convert_synthia, cityscapes=convert_cityscapes,
                   synscapes=partial(convert_synscapes, split_file='train.txt'))


def tiny_demo(out, domains, convert, size=(64, 36), scale=0.02):
    """``out`` (a Path) holding the demo ``domains`` (names) at ``size`` pixels, those named in ``convert``
    converted; returns ``out``."""
    generate(str(out), seed=0, scale=scale, size=size, nproc=1, domains=[DOMAINS_BY_NAME[n] for n in domains])
    for name in convert:
        _CONVERTERS[name](str(out / name), nproc=1)
    return out
