"""Mapillary Vistas v1.2 labels -> Cityscapes trainIds, the half-resolution validation copy, and rare-class-sampling
statistics (outputs: daseg/datasets/convert/mapillary.py)."""
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from tools.convert_datasets.options import converter_parser  # noqa: E402


def main(argv=None):
    """Command line: `mapillary.py DATA_ROOT [--config FILE] [--nproc N]`; returns the exit status."""
    parser = converter_parser(
        'Convert Mapillary Vistas v1.2 labels to the 19 Cityscapes trainIds (DDB\'s name rules) under DATA_ROOT: '
        'cityscapes_trainIdLabel/{train,val}/label/<key>.png, half/val_img/<key>.jpg and half/val_label/<key>.png '
        '(validation at half size), cityscapes_trainIdLabel/label_map.json (which label went where) and the '
        'rare-class-sampling statistics of the training labels.')
    parser.add_argument('data_root', help='Mapillary root containing config_v1.2.json, training/{images,labels}/ '
                                          'and validation/{images,labels}/')
    parser.add_argument('--config', default='config_v1.2.json',
                        help='the label list, relative to DATA_ROOT unless absolute (default: %(default)s)')
    args = parser.parse_args(argv)
    # The package (torch, mmseg) loads after the arguments: --help and usage errors answer at once.
    from daseg.datasets.convert.cli import run_cli
    from daseg.datasets.convert.mapillary import convert_mapillary
    return run_cli(lambda a: convert_mapillary(a.data_root, a.nproc, a.config), args)


if __name__ == '__main__':
    sys.exit(main())
