#!/usr/bin/env python
"""Convert a released DAFormer / HRDA / MIC checkpoint (mmseg 0.x key names) to this project's layout.

    python tools/convert_checkpoint.py ~/Downloads/gta2cs_daformer.pth pretrained/daformer_gta2cs.pth
    python tools/convert_checkpoint.py IN OUT --which all --config configs/daformer/<experiment>.py

--which student (default) or teacher writes that segmentor alone ({'meta', 'state_dict': backbone.*,
decode_head.*}), for test.sh, merge.py and load_from; --which all keeps the UDA wrapper's model.*, ema_model.*,
imnet_model.* and MIC's own teacher (mic.teacher.ema_model.*). MiT backbones in the original SegFormer layout are
converted; the optimizer state and keys of no declared sub-model are dropped. With --config the result is checked,
key by key and shape by shape, against the model the config builds. The file is read weights-only and written atomically.
"""
import argparse
import os.path as osp
import sys

# Runnable without installing the package: the repository root holds daseg.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('src', metavar='IN', help='released checkpoint (.pth)')
    p.add_argument('dst', metavar='OUT', help='converted checkpoint to write')
    p.add_argument('--which', choices=['student', 'teacher', 'all'], default='student',
                   help='sub-model to keep from a UDA checkpoint (default: student)')
    p.add_argument('--config', help='check the result against the model this config builds')
    p.add_argument('--force', action='store_true', help='overwrite an existing OUT')
    return p.parse_args(argv)


if __name__ == '__main__':
    parse_args()  # --help and usage errors answer before torch and the package load

from daseg.cli import load_config, run_main  # noqa: E402
from daseg.errors import UserError  # noqa: E402
from daseg.weights import (BY_NAME, SUB_MODELS, check_fits, convert_released_state_dict,  # noqa: E402
                           load_checkpoint_file, save_checkpoint_atomic, segmentor_state_dict, unwrap_state_dict)


def check_against_config(state_dict, config, which, source):
    """Raise a UserError naming the keys and shapes in which ``state_dict`` and the config's model differ.

    Args:
        state_dict (dict[str, Tensor]): converted weights.
        config (str): config file; for ``which`` student/teacher of a UDA config its inner segmentor is used.
        which (str): ``'student'``, ``'teacher'`` or ``'all'``.
        source (str): the checkpoint's name, for the message.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    cfg = load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model
    if which != 'all' and isinstance(model_cfg.get('model'), dict):
        model_cfg = model_cfg.model  # the segmentor inside a UDA wrapper
    check_fits(MODELS.build(model_cfg).state_dict(), state_dict, f'{source} does not fit the model of {config}')


def convert(src, dst, which='student', force=False, config=None):
    """Convert ``src`` into ``dst``.

    Args:
        src (str): released checkpoint.
        dst (str): output file; an existing one needs ``force``.
        which (str): ``'student'``, ``'teacher'`` or ``'all'``.
        force (bool): overwrite ``dst``.
        config (str | None): config whose model the result must fit.

    Returns:
        list[str]: report lines (what was converted, dropped and written).
    """
    if osp.exists(dst) and not force:
        raise UserError(f'{dst} exists; pass --force to overwrite it')
    ckpt = load_checkpoint_file(src)
    wrapped = isinstance(ckpt.get('state_dict'), dict)
    conversion = convert_released_state_dict(unwrap_state_dict(ckpt, src))
    dropped = [f'{key} (training state)' for key in ckpt if wrapped and key not in ('state_dict', 'meta')]
    prefixes = tuple(p for sub in SUB_MODELS for p in sub.prefixes)
    is_uda = any(k.startswith(prefixes) for k in conversion.state_dict)
    if which == 'all':
        out = {k: v for k, v in conversion.state_dict.items() if k.startswith(prefixes) or not is_uda}
        unknown = len(conversion.state_dict) - len(out)
        if unknown:
            dropped.append(f'{unknown} keys of no sub-model')
    else:
        try:
            out = segmentor_state_dict({'state_dict': conversion.state_dict}, which)
        except UserError as exc:
            raise UserError(f'{src}: {exc}') from None
        if is_uda:
            kept = BY_NAME[which].prefixes
            for prefix in prefixes:
                n = sum(k.startswith(prefix) for k in conversion.state_dict)
                if prefix not in kept and n:
                    dropped.append(f'{prefix}* ({n} keys: not the {which})')
    if config is not None:
        check_against_config(out, config, which, src)
    meta = dict(ckpt['meta']) if isinstance(ckpt.get('meta'), dict) else {}
    meta.update(converted_from=osp.basename(src), converted_which=which)
    save_checkpoint_atomic({'meta': meta, 'state_dict': out}, dst, overwrite=force)

    converted = ', '.join(conversion.converted)
    lines = [f'converted MiT backbone(s) from the original SegFormer layout: {converted}'] if converted else []
    lines += conversion.notes  # e.g. an original DeepLab checkpoint's renaming and dropped classifier convs
    lines = lines or ['no key needed renaming']
    lines.append(f'dropped: {"; ".join(dropped)}' if dropped else 'dropped: nothing')
    kind = 'UDA wrapper' if which == 'all' and is_uda else which if is_uda else 'segmentor'
    lines.append(f'wrote {len(out)} tensors ({kind}) to {dst}')
    return lines


def main(argv=None):
    args = parse_args(argv)

    def run():
        for line in convert(args.src, args.dst, args.which, args.force, args.config):
            print(line)
        return 0

    return run_main(run)


if __name__ == '__main__':
    sys.exit(main())
