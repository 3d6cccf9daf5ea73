"""Merging N per-target checkpoints into one model (or one model per input head), without data.

A first pass checks every input (readable, same architecture, valid options, a usable base) before any work;
TIES then reads each input once more for its trim threshold; the merge pass reads one input at a time into
running sums, so memory holds a few models whatever N is.
"""
import math
import os.path as osp
import time
from importlib import metadata

from ..errors import UserError
from ..weights import BY_NAME, EVALUABLE, SUB_MODELS, save_checkpoint_atomic
from .buffers import BUFFER_MODES, BatchNormMerger, batchnorm_keys, batchnorm_prefixes
from .inputs import check_distinct, check_same_architecture, layout, load_input, sha256_of, state_digest
from .outputs import check_outputs, dataset_meta, output_paths
from .rebasin import permute, resnet_permutation_spec, weight_matching
from .rules import IMAGENET_BASE, PARAM_MODES, TASK_VECTOR_MODES, accumulator, check_rule
from .task_vectors import trim_threshold

__all__ = ['MERGED_SUB_MODELS', 'PARAM_MODES', 'Progress', 'check_weights', 'merge_checkpoints']
# --which: the sub-models merged (attribute paths of daseg.weights.SUB_MODELS); the others come from input 1.
MERGED_SUB_MODELS = {'student': (BY_NAME['student'].attr,), 'teacher': (BY_NAME['teacher'].attr,),
                     'all': tuple(sub.attr for sub in SUB_MODELS)}
_IMAGENET_ATTR = BY_NAME['imagenet'].attr
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


def _versions():
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = 'not installed'
    return found


class Progress:
    """One line per step with the elapsed time and an ETA."""

    def __init__(self, title, total, log):
        self.title, self.total, self.log, self.start = title, total, log, time.perf_counter()

    def step(self, done, text):
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done)
        self.log(f'{self.title} [{done}/{self.total}] {text}  elapsed {elapsed:.1f} s, ETA {eta:.1f} s')


def _check_inputs(paths, which, params, base, allow_duplicates, log):
    """First pass: hashes, sub-models and architectures of every input; returns (records, plan)."""
    records, layouts, kinds, imagenet = [], [], [], []
    progress = Progress('checking', len(paths), log)
    for k, path in enumerate(paths):
        sha = sha256_of(path) if osp.isfile(path) else None
        groups, is_uda = load_input(path)
        if not allow_duplicates:
            check_distinct(paths[:k + 1], [r['sha256'] for r in records] + [sha])
        if base == IMAGENET_BASE:
            if _IMAGENET_ATTR not in groups:
                raise UserError(f'--base {IMAGENET_BASE}: {path} holds no ImageNet model ({_IMAGENET_ATTR}.*, '
                                'kept when trained with the ImageNet feature distance); pass --base CHECKPOINT, '
                                'the checkpoint the inputs were trained from')
            imagenet.append(state_digest(groups[_IMAGENET_ATTR]))
            if imagenet[-1] != imagenet[0]:
                raise UserError(f'--base {IMAGENET_BASE}: the ImageNet model of {path} differs from that of '
                                f'{paths[0]}; the inputs do not share one initialisation')
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
            'keys': {name: list(layouts[0][name]) for name in kept}, 'layout': layouts[0]}
    return records, plan


def _load_base(base, paths, plan):
    """theta_base for every merged sub-model and what the meta records about it."""
    if base == IMAGENET_BASE:
        state = load_input(paths[0])[0][_IMAGENET_ATTR]
        record = {'imagenet_model_of_inputs': True, 'state_sha256': state_digest(state)}
    else:
        if not osp.isfile(base):
            raise UserError(f'--base: checkpoint not found: {base}')
        state = load_input(base)[0].get('model')
        if state is None:
            raise UserError(f'--base {base} holds no student weights (model.*)')
        record = {'path': osp.abspath(base), 'sha256': sha256_of(base)}
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    check_same_architecture(paths[0], plan['layout'], f'--base {base}', {n: shapes for n in plan['merged']},
                            plan['merged'])
    return state, record


def _param_keys(plan, name):
    bn_keys = batchnorm_keys(plan['keys'][name])
    return [k for k in plan['keys'][name] if k not in bn_keys]


def _trim_thresholds(paths, plan, base_state, density, log):
    """TIES: per input and merged sub-model, the magnitude its task vector is trimmed at."""
    thresholds = {name: [] for name in plan['merged']}
    progress = Progress('trimming', len(paths), log)
    for k, path in enumerate(paths):
        groups, _ = load_input(path)
        for name in plan['merged']:
            keys = [key for key in _param_keys(plan, name) if groups[name][key].is_floating_point()]
            vector = (groups[name][key].float() - base_state[key].float() for key in keys)
            thresholds[name].append(trim_threshold(vector, density))
        del groups
        progress.step(k + 1, f'{path}: |tau| >= ' + ', '.join(f'{t[-1]:.3g}' for t in thresholds.values()))
    return thresholds


def merge_checkpoints(paths, out, weights=None, params='linear', buffers='gaussian', which='student',
                      sep_heads=False, force=False, base=None, scaling=None, density=None, drop=None, seed=None,
                      recalibrate=None, allow_duplicates=True, log=print):
    """Merge checkpoints and write the result atomically.

    Args:
        paths (list[str]): N >= 2 checkpoints of one architecture (this project's or released mmseg 0.x ones).
        out (str): output file (with ``sep_heads``: the stem of the N output files).
        weights (list[float] | None): merge weights of the averaging rules, default 1/N each.
        params (str): ``'linear'`` (weighted average), ``'rebasin'`` (ResNet: align each input to the running
            average by weight matching, then average), or a task-vector rule (``'task-arithmetic'``,
            ``'ties'``, ``'dare'``, see :mod:`daseg.merging.task_vectors`).
        buffers (str): BatchNorm statistics rule, one of :data:`daseg.merging.buffers.BUFFER_MODES`.
        which (str): sub-models merged (``'student'``, ``'teacher'``, ``'all'``); others come from input 1.
        sep_heads (bool): write one model per input: merged weights with that input's own decode head.
        force (bool): replace existing output files.
        base (str | None): task-vector rules: the checkpoint the inputs were trained from (its student), or
            ``'imagenet'``: the ImageNet model inside every input, which must be identical in all.
        scaling, density, drop, seed: the rule's lambda, TIES's kept share, DARE's drop probability and
            seed (None: the defaults of :data:`daseg.merging.rules.DEFAULTS`).
        recalibrate (daseg.merging.recalibrate.Recalibrator | None): re-estimates the BatchNorm statistics of
            the merged student and teacher on unlabelled images (uses data; recorded in the meta).
        allow_duplicates (bool): accept an input given twice (same file or same content).
        log (callable): receives progress lines.

    Returns:
        list[str]: the written files.
    """
    if len(paths) < 2:
        raise UserError(f'merging needs at least 2 checkpoints, got {len(paths)}')
    for option, value, choices in (('--buffers', buffers, BUFFER_MODES),
                                   ('--which', which, tuple(MERGED_SUB_MODELS))):
        if value not in choices:
            raise UserError(f'{option} must be one of {", ".join(choices)}, got {value!r}')
    options = check_rule(params, weights, base, scaling, density, drop, seed)
    weights = check_weights(weights, len(paths))
    if not allow_duplicates:
        check_distinct(paths)
    outputs = output_paths(out, len(paths), sep_heads)
    check_outputs(outputs, force)
    records, plan = _check_inputs(paths, which, params, base, allow_duplicates, log)
    classes = dataset_meta(paths)
    base_state, base_record = _load_base(base, paths, plan) if params in TASK_VECTOR_MODES else (None, None)
    thresholds = None
    if params == 'ties':
        thresholds = _trim_thresholds(paths, plan, base_state, options['density'], log)
    merged_sd, heads = _merge_pass(paths, weights, params, buffers, plan, sep_heads, log,
                                   options=options, base=base_state, thresholds=thresholds)
    meta = {'merge': {'inputs': records, 'weights': weights, 'params': params, 'buffers': buffers,
                      'merged': plan['merged'], 'copied_from_first_input': plan['copied'],
                      'data_used': recalibrate.record() if recalibrate else None},
            'versions': _versions(), 'time': time.strftime('%Y-%m-%d %H:%M:%S')}
    if params in TASK_VECTOR_MODES:
        meta['merge'].update(base=base_record, options=options)
    if classes:
        meta['dataset_meta'] = classes
    for k, path in enumerate(outputs):
        state = dict(merged_sd)
        if sep_heads:
            state.update(heads[k])
            meta['merge']['decode_head_of_input'] = k + 1
        if recalibrate:
            state.update(_recalibrated(recalibrate, state, plan, log))
        save_checkpoint_atomic({'state_dict': state, 'meta': meta}, path, overwrite=force)
        log(f'wrote {path}' + (' (BatchNorm statistics from target images)' if recalibrate else ''))
    return outputs


def _recalibrated(recalibrate, state, plan, log):
    """The re-estimated BatchNorm statistics of the merged student and teacher, under their state keys."""
    found = {}
    for name in plan['merged']:
        if name not in (BY_NAME[n].attr for n in EVALUABLE):
            continue
        prefix = f'{name}.' if plan['uda'] else ''
        own = {key[len(prefix):]: t for key, t in state.items() if key.startswith(prefix)}
        found.update({prefix + key: t for key, t in recalibrate(own, name, log).items()})
    return found


def _merge_pass(paths, weights, params, buffers, plan, sep_heads, log, options=None, base=None, thresholds=None):
    """Second pass: running sums over the inputs; returns the flat output state dict and per-input heads."""
    merged, spec = plan['merged'], plan['spec']
    sums, stats = {}, {}
    for name in merged:
        sums[name] = accumulator(params, _param_keys(plan, name), options, base=base,
                                 thresholds=thresholds and thresholds[name], label=name)
        stats[name] = BatchNormMerger(buffers, batchnorm_prefixes(plan['keys'][name]), label=name)
    copied, heads = {}, [{} for _ in paths]
    prefix = (lambda name: f'{name}.') if plan['uda'] else (lambda name: '')
    progress = Progress('merging', len(paths), log)
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
            # The averaging rules weight each input; the task-vector rules need its position (DARE's seed).
            sums[name].add(sd, k if params in TASK_VECTOR_MODES else weights[k])
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
