#!/usr/bin/env python
"""Export a trained model to TorchScript and ONNX, checked against PyTorch on a sample.

    python tools/export.py CONFIG CHECKPOINT --shape 512 1024 --out exported
    python tools/export.py CONFIG CHECKPOINT --shape 1024 2048 --mode slide --crop-size 1024 1024 --out exported

Writes, under --out (new or empty), model.pt (TorchScript), model.onnx (with the export extra) and export.json
(input size, normalisation, classes, palette, inference mode, checks). The exported model takes a normalised RGB
batch of the given size and returns logits. The work is daseg.apis.run_export.export_model's.
"""
import argparse
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from tools.segmentor_arguments import MODES, SUB_MODELS, add_model_arguments  # noqa: E402,F401

# As daseg.apis (which checks the choices again): the parser is built without importing the package.
FORMATS = ('torchscript', 'onnx')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_arguments(p)
    p.add_argument('--shape', nargs=2, type=int, required=True, metavar=('H', 'W'),
                   help='input size of the exported model (fixed in the graph)')
    p.add_argument('--formats', nargs='+', choices=FORMATS,
                   help='default: torchscript, and onnx when the onnx package is installed')
    p.add_argument('--image', help='sample image for the check (default: random pixels)')
    return p.parse_args(argv)


def export(args):
    from daseg.apis.run_export import export_model
    return export_model(**vars(args))


def main(argv=None):
    return export(parse_args(argv))


if __name__ == '__main__':
    ARGS = parse_args()  # --help and usage errors come before the package loads
    from daseg.cli import run_main
    run_main(lambda: export(ARGS))
