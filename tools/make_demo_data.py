"""Generate the synthetic demo domains in the real datasets' raw formats.

GTA5-, SYNTHIA-, Synscapes-, Cityscapes-, IDD-, ACDC (fog, night)-, Dark Zurich- and Mapillary-like street
scenes, written under --out in each dataset's own folder layout and label encoding (see daseg/demo/writers.py),
plus manifest.json. The output depends only on --seed, --scale and --size.
"""
import argparse
import re
import sys
import time


def _size(text):
    """'WxH' (every domain) or 'W' (each domain keeps its aspect ratio)."""
    m = re.fullmatch(r'(\d+)(?:x(\d+))?', text)
    if not m or int(m.group(1)) < 8 or (m.group(2) and int(m.group(2)) < 8):
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT or WIDTH (at least 8 px), got {text!r}')
    return (int(m.group(1)), int(m.group(2))) if m.group(2) else int(m.group(1))


def _positive(cast):
    def parse(text):
        value = cast(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f'must be positive, got {text!r}')
        return value
    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default='data/demo', help='output folder (default: %(default)s)')
    p.add_argument('--seed', type=int, default=0, help='random seed (default: %(default)s)')
    p.add_argument('--scale', type=_positive(float), default=1.0,
                   help='multiplies every image count, at least one image per split (default: %(default)s)')
    p.add_argument('--size', type=_size, default=None,
                   help='image size for every domain, WIDTHxHEIGHT, or WIDTH keeping each aspect ratio '
                        '(default: each domain\'s own, e.g. 256x144 for GTA)')
    p.add_argument('--nproc', type=_positive(int), default=2, help='worker processes (default: %(default)s)')
    p.add_argument('--overwrite', action='store_true', help='replace a demo set already in --out')
    p.add_argument('--domains', nargs='+', metavar='NAME',
                   help='only these domains (default: all): gta, synthia, cityscapes, idd, acdc_fog, acdc_night, '
                        'darkzurich, synscapes, mapillary; each image is the same as in the whole set')
    return p.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

from daseg.demo import generate, select_domains  # noqa: E402
from daseg.errors import UserError  # noqa: E402


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    try:
        manifest = generate(args.out, seed=args.seed, scale=args.scale, size=args.size, nproc=args.nproc,
                            overwrite=args.overwrite, domains=select_domains(args.domains))
    except UserError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    total = sum(d['train'] + d['val'] for d in manifest['domains'].values())
    print(f'wrote {total} images of {len(manifest["domains"])} domains to {args.out} in {time.time() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
