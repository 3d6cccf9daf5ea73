"""Merging N per-target checkpoints into one model (or one model per input head), without data.

Two passes over the inputs: the first checks them all (readable, same architecture, valid options) before any
work; the second reads one input at a time into running sums, so memory holds about two models whatever N is.
"""
import math
import os.path as osp
import time
from importlib import metadata

from ..checkpoint import save_checkpoint_atomic
from ..errors import UserError
from .average import WeightedSum
from .buffers import BUFFER_MODES, BatchNormMerger, batchnorm_keys, batchnorm_prefixes
from .inputs import check_same_architecture, layout, load_input, sha256_of
from .rebasin import permute, resnet_permutation_spec, weight_matching

PARAM_MODES = ('linear', 'rebasin')
# --which: the sub-models that are merged; the others are copied from the first input.
MERGED_SUB_MODELS = {'student': ('model',), 'teacher': ('ema_model',), 'all': ('model', 'ema_model', 'imnet_model')}
_VERSIONED = ('daseg', 'torch', 'onedl-mmengine', 'onedl-mmsegmentation', 'scipy')


def check_weights(weights, n):
    """The merge weights: 1/N each by default, else N non-negative numbers that sum to 1 (within 1e-6)."""
    if weights is None:
        return [1.0 / n] * n
    if len(weights) != n:
        raise UserError(f'--weights: {len(weights)} given for {n} checkpoints')
    if any(not math.isfinite(w) or w < 0 for w in weights):
        raise UserError(f'--weights must be non-negative numbers, got {" ".join(map(str, weights))}')
    if abs(sum(weights) - 1) > 1e-6:
        raise UserError(f'--weights must sum to 1, they sum to {sum(weights):.8g}')
    return [float(w) for w in weights]


def output_paths(out, n, sep_heads):
    """``out``, or with separate heads ``<out stem>_head<k>.pth`` for k = 1..N."""
    if not sep_heads:
        return [out]
    stem, ext = osp.splitext(out)
    return [f'{stem}_head{k}{ext or ".pth"}' for k in range(1, n + 1)]


def _versions():
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = 'not installed'
    return found


class _Progress:
    """One line per input with the elapsed time and an ETA."""

    def __init__(self, title, total, log):
        self.title, self.total, self.log, self.start = title, total, log, time.perf_counter()

    def step(self, done, text):
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done)
        self.log(f'{self.title} [{done}/{self.total}] {text}  elapsed {elapsed:.1f} s, ETA {eta:.1f} s')


def _check_inputs(paths, which, params, log):
    """First pass: hashes, sub-models and architectures of every input; returns (records, plan)."""
    records, layouts, kinds = [], [], []
    progress = _Progress('checking', len(paths), log)
    for k, path in enumerate(paths):
        sha = sha256_of(path) if osp.isfile(path) else None
        groups, is_uda = load_input(path)
        layouts.append(layout(groups))
        kinds.append(is_uda)
        records.append({'path': osp.abspath(path), 'sha256': sha, 'uda': is_uda})
        progress.step(k + 1, f'{path} ({"UDA" if is_uda else "segmentor"} checkpoint)')
        del groups
    uda = all(kinds)
    if not uda and which != 'student':
        plain = paths[kinds.index(False)]
        raise UserError(f'--which {which}: {plain} holds a plain segmentor, it has no teacher or ImageNet model')
    if not uda and any(kinds):
        log('note: some inputs are plain segmentors; merging the students, the output is a plain segmentor')
    kept = list(layouts[0]) if uda else ['model']
    merged = [name for name in MERGED_SUB_MODELS[which] if name in layouts[0]]
    if not merged:
        raise UserError(f'--which {which}: {paths[0]} has none of {", ".join(MERGED_SUB_MODELS[which])}')
    for path, other in zip(paths[1:], layouts[1:]):
        check_same_architecture(paths[0], layouts[0], path, other, merged)
    spec = resnet_permutation_spec(layouts[0]['model']) if params == 'rebasin' else None
    plan = {'uda': uda, 'merged': merged, 'copied': [n for n in kept if n not in merged], 'spec': spec,
            'keys': {name: list(layouts[0][name]) for name in kept}}
    return records, plan


def merge_checkpoints(paths, out, weights=None, params='linear', buffers='gaussian', which='student',
                      sep_heads=False, force=False, log=print):
    """Merge checkpoints and write the result atomically.

    Args:
        paths (list[str]): N >= 2 checkpoints of one architecture (this project's or released mmseg 0.x ones).
        out (str): output file (with ``sep_heads``: the stem of the N output files).
        weights (list[float] | None): merge weights, default 1/N each.
        params (str): ``'linear'`` (weighted average) or ``'rebasin'`` (ResNet: align each input to the running
            average by weight matching, then average).
        buffers (str): BatchNorm statistics rule, one of :data:`daseg.merging.buffers.BUFFER_MODES`.
        which (str): sub-models merged (``'student'``, ``'teacher'``, ``'all'``); others come from input 1.
        sep_heads (bool): write one model per input: merged weights with that input's own decode head.
        force (bool): replace existing output files.
        log (callable): receives progress lines.

    Returns:
        list[str]: the written files.
    """
    if len(paths) < 2:
        raise UserError(f'merging needs at least 2 checkpoints, got {len(paths)}')
    for option, value, choices in (('--params', params, PARAM_MODES), ('--buffers', buffers, BUFFER_MODES),
                                   ('--which', which, tuple(MERGED_SUB_MODELS))):
        if value not in choices:
            raise UserError(f'{option} must be one of {", ".join(choices)}, got {value!r}')
    weights = check_weights(weights, len(paths))
    outputs = output_paths(out, len(paths), sep_heads)
    for path in outputs:
        if osp.exists(path) and not force:
            raise UserError(f'{path} exists; pass --force to replace it')
        if not osp.isdir(osp.dirname(osp.abspath(path))):
            raise UserError(f'output folder does not exist: {osp.dirname(osp.abspath(path))}')

    records, plan = _check_inputs(paths, which, params, log)
    merged_sd, heads = _merge_pass(paths, weights, params, buffers, plan, sep_heads, log)

    meta = {'merge': {'inputs': records, 'weights': weights, 'params': params, 'buffers': buffers,
                      'merged': plan['merged'], 'copied_from_first_input': plan['copied']},
            'versions': _versions(), 'time': time.strftime('%Y-%m-%d %H:%M:%S')}
    for k, path in enumerate(outputs):
        state = dict(merged_sd)
        if sep_heads:
            state.update(heads[k])
            meta['merge']['decode_head_of_input'] = k + 1
        save_checkpoint_atomic({'state_dict': state, 'meta': meta}, path, overwrite=force)
        log(f'wrote {path}')
    return outputs


def _merge_pass(paths, weights, params, buffers, plan, sep_heads, log):
    """Second pass: running sums over the inputs; returns the flat output state dict and per-input heads."""
    merged, spec = plan['merged'], plan['spec']
    sums, stats = {}, {}
    for name in merged:
        keys = plan['keys'][name]
        bn_keys = batchnorm_keys(keys)
        sums[name] = WeightedSum(k for k in keys if k not in bn_keys)
        stats[name] = BatchNormMerger(buffers, batchnorm_prefixes(keys), label=name)
    copied, heads = {}, [{} for _ in paths]
    prefix = (lambda name: f'{name}.') if plan['uda'] else (lambda name: '')
    progress = _Progress('merging', len(paths), log)
    for k, path in enumerate(paths):
        groups, _ = load_input(path)
        note = ''
        for name in merged:
            sd = groups[name]
            if spec is not None and k > 0:
                perms, passes = weight_matching(spec, sums[name].sums, sd)
                sd = permute(spec, perms, sd)
                moved = sum(int((p != p.sort().values).sum()) for p in perms.values())
                note += f' {name}: aligned in {passes} passes, {moved} channels moved;'
            sums[name].add(sd, weights[k])
            try:
                stats[name].add(sd, weights[k])
            except ValueError as exc:
                raise UserError(f'{path}: {exc}') from None
            if sep_heads:
                heads[k].update({prefix(name) + key: t.clone() for key, t in sd.items()
                                 if key.startswith('decode_head.')})
        if k == 0:
            copied = {prefix(name) + key: t for name in plan['copied'] for key, t in groups[name].items()}
        del groups
        progress.step(k + 1, f'{path}{note}')
    state = {}
    for name in merged:
        result = {**sums[name].result(), **stats[name].result()}
        if stats[name].fallbacks:
            log(f'note: {name}: {len(stats[name].fallbacks)} BatchNorm layers were never updated in any input '
                f'(num_batches_tracked 0, e.g. {stats[name].fallbacks[0]}); their statistics use the merge weights')
        state.update({prefix(name) + key: result[key] for key in plan['keys'][name]})
    state.update(copied)
    return state, heads
