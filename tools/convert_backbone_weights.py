"""Convert ImageNet weights of a Swin, BEiT, MAE / ViT or ConvNeXt encoder, in any release layout the backbones
read, once into ``{'state_dict': ...}`` under the backbone's own names.

The backbones (CheckedSwinTransformer, CheckedBEiT, CheckedMAE, ConvNeXt) read the release files directly;
converting first only saves the conversion at every start and drops the classifier from the file. Resizing to the
model's window or image size happens when a backbone loads the file, not here.

    python tools/convert_backbone_weights.py ~/Downloads/swin_base_patch4_window7_224_22k.pth \\
        pretrained/swin_base.pth --family swin
"""
import argparse
import os
import sys

FAMILIES = ('swin', 'beit', 'mae', 'convnext')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='weights file (official release, mmcls / mmpretrain or mmseg layout)')
    parser.add_argument('dst', help="output file: {'state_dict': backbone weights}")
    parser.add_argument('--family', required=True, choices=FAMILIES,
                        help='encoder family of SRC (mae also reads timm ViT files)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing DST')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

from daseg.cli import run_main  # noqa: E402
from daseg.errors import UserError  # noqa: E402
from daseg.weights import load_checkpoint_file, save_checkpoint_atomic  # noqa: E402
from daseg.weights.convnext_keys import convnext_state_dict  # noqa: E402
from daseg.weights.swin_keys import swin_state_dict  # noqa: E402
from daseg.weights.vit_keys import beit_state_dict, mae_state_dict  # noqa: E402


# The key table of each family: (loaded checkpoint, source name) -> backbone state dict.
KEY_TABLES = {'swin': swin_state_dict, 'beit': beit_state_dict, 'mae': mae_state_dict,
              'convnext': convnext_state_dict}


def convert(src, dst, family, force=False):
    """Convert ``src`` to ``dst``; returns the number of tensors written."""
    if os.path.exists(dst) and not force:
        raise UserError(f'{dst} exists; pass --force to overwrite it')
    sd = KEY_TABLES[family](load_checkpoint_file(src), src)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    save_checkpoint_atomic({'state_dict': sd}, dst, overwrite=force)
    return len(sd)


def main(argv=None):
    args = parse_args(argv)

    def run():
        count = convert(args.src, args.dst, args.family, args.force)
        print(f'wrote {count} {args.family} tensors to {args.dst}')
        return 0

    return run_main(run)

if __name__ == '__main__':
    sys.exit(main())
