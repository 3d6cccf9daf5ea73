#!/usr/bin/env python
"""Segment images, folders, glob patterns and videos with a trained model.

    python tools/infer.py CONFIG CHECKPOINT street.png 'frames/*.jpg' drive.mp4 --out preds
    python tools/infer.py work_dirs/RUN RUN/iter_40000.pth images/ --out preds --mode slide --crop-size 1024 1024

Writes, under --out (new or empty): pred/<name>.png, the raw uint8 trainIds at the input's resolution (a
video's frames in pred/<name>/<frame>.png); overlay/<name>.png, the image in the class colours above a legend;
overlay/<name>.mp4 for a video. The work is daseg.apis.run_inference.infer_files's.
"""
import argparse
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from tools.segmentor_arguments import MODES, SUB_MODELS, add_model_arguments  # noqa: E402,F401

# As daseg.apis (which checks the choices again): the parser is built without importing the package.
OUTPUTS = ('pred', 'overlay')
VIDEO_CODECS = ('mp4v', 'MJPG')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_model_arguments(p)
    p.add_argument('inputs', nargs='+', metavar='INPUT',
                   help="image or video files, folders (searched recursively), quoted glob patterns ('d/*.png')")
    p.add_argument('--batch-size', type=int, default=1, help='images or frames per forward pass')
    p.add_argument('--outputs', nargs='+', choices=OUTPUTS, default=list(OUTPUTS), help='what to write')
    p.add_argument('--opacity', type=float, default=0.5, help='weight of the class colours in the overlays')
    p.add_argument('--video-codec', choices=VIDEO_CODECS, default='mp4v', help='mp4v writes .mp4, MJPG .avi')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='default: cuda when available')
    p.add_argument('--tta', action='store_true',
                   help='test-time augmentation as in test.sh --tta: scales 0.5 to 1.75, each also flipped, '
                        'softmax averaged')
    return p.parse_args(argv)


def infer(args):
    from daseg.apis.run_inference import infer_files
    return infer_files(**vars(args))


def main(argv=None):
    return infer(parse_args(argv))


if __name__ == '__main__':
    ARGS = parse_args()  # --help and usage errors come before the package loads
    from daseg.cli import run_main
    run_main(lambda: infer(ARGS))
