"""Convert MiT (SegFormer encoder) weights to the mmseg layout used by daseg's ``MiT`` backbone.

Reads the original ``mit_bX.pth`` (SegFormer/DAFormer), a HuggingFace ``nvidia/mit-bX`` ``pytorch_model.bin``
or an mmseg MiT file, checks it against the MiT variant (detected from the shapes unless --arch is given)
and writes ``{'state_dict': ...}``.

    python tools/convert_mit_weights.py ~/Downloads/pytorch_model.bin pretrained/mit_b5.pth
"""
import argparse
import os
import sys

# The MiT variants of daseg.models.backbones.mit.ARCH_SETTINGS, named here so that --help needs no torch.
ARCHS = ('b0', 'b1', 'b2', 'b3', 'b4', 'b5')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='MiT weights in the original, HuggingFace or mmseg layout')
    parser.add_argument('dst', help='output file (mmseg layout)')
    parser.add_argument('--arch', choices=ARCHS, help='expected MiT variant (default: detected from the weights)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing DST')
    return parser.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

from daseg.errors import UserError  # noqa: E402
from daseg.models.backbones.mit import MiT, detect_arch  # noqa: E402
from daseg.weights import save_checkpoint_atomic  # noqa: E402
from daseg.weights.mit_keys import load_mit_weights  # noqa: E402


def convert(src, dst, arch=None, force=False):
    """Convert ``src`` to ``dst``; returns the MiT variant of the weights."""
    if os.path.exists(dst) and not force:
        raise UserError(f'{dst} exists; pass --force to overwrite it')
    sd = load_mit_weights(src)
    arch = arch or detect_arch(sd)
    MiT(arch=arch).check_state_dict(sd, source=src)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    save_checkpoint_atomic({'state_dict': sd}, dst, overwrite=force)
    return arch


def main(argv=None):
    args = parse_args(argv)
    try:
        arch = convert(args.src, args.dst, args.arch, args.force)
    except UserError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(f'wrote MiT-{arch} weights to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
