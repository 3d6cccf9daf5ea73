"""Generating the demo set: one task per image, run in parallel, and committed only once complete.

Every image draws from its own random stream, seeded by (seed, domain, image number), so the result is the
same whatever the number of processes. Everything is written under a hidden temporary folder inside the
output folder and renamed into place at the end: an interrupted run leaves no half-written dataset.
"""
import json
import os
import shutil
import zlib

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress

from ..errors import UserError
from .appearance import render
from .domains import DOMAINS, DOMAINS_BY_NAME
from .scene import draw_scene

MANIFEST = 'manifest.json'
_TMP_PREFIX = '.tmp-demo-'


def domain_size(domain, size):
    """Image size (width, height) of a domain: its own, or `size` as (w, h) or as a width keeping the aspect."""
    if size is None:
        return tuple(domain.size)
    if isinstance(size, int):
        w, h = domain.size
        return size, max(2, round(size * h / w))
    return tuple(size)


def split_counts(domain, scale):
    """Number of (train, val) images at a given --scale; never below one each."""
    return max(1, round(domain.train * scale)), max(1, round(domain.val * scale))


def sample_rng(seed, name, number):
    """The random stream of one image: its scene is drawn first, then it is rendered."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode()), number]))


def make_sample(task):
    """Draw, render and write one image; returns (domain name, split, stem)."""
    name, split, number, seed, size, tmp = task
    domain = DOMAINS_BY_NAME[name]
    rng = sample_rng(seed, name, number)
    scene = draw_scene(domain.layout, size[0], size[1], rng)
    image = render(scene, domain.style, rng)
    return name, split, domain.writer(os.path.join(tmp, domain.root), split, number, image, scene)


def generate(out, seed=0, scale=1.0, size=None, nproc=2, overwrite=False, domains=DOMAINS):
    """Write the demo domains under `out` and return the manifest (also written to out/manifest.json).

    Raises UserError if `out` already holds a generated set and `overwrite` is false.
    """
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f'--out {out} exists and is not a folder')
    roots = sorted({d.root for d in domains})
    existing = [p for p in roots + [MANIFEST] if os.path.exists(os.path.join(out, p))]
    if existing and not overwrite:
        raise UserError(f'{out} already contains a generated demo set ({", ".join(existing)}); '
                        'pass --overwrite to replace it')
    os.makedirs(out, exist_ok=True)
    for stale in os.listdir(out):  # left behind by an interrupted run
        if stale.startswith(_TMP_PREFIX):
            shutil.rmtree(os.path.join(out, stale), ignore_errors=True)
    tmp = os.path.join(out, f'{_TMP_PREFIX}{os.getpid()}')
    os.makedirs(tmp)
    try:
        tasks, manifest = [], {'generator': 'tools/make_demo_data.py', 'seed': seed, 'scale': scale, 'domains': {}}
        for d in domains:
            n_train, n_val = split_counts(d, scale)
            wh = domain_size(d, size)
            manifest['domains'][d.name] = {'folder': d.root, 'dataset': d.dataset,
                                           'size': list(wh), 'train': n_train, 'val': n_val}
            tasks += [(d.name, 'train' if i < n_train else 'val', i, seed, wh, tmp) for i in range(n_train + n_val)]
        if nproc > 1:
            results = track_parallel_progress(make_sample, tasks, nproc, chunksize=4)
        else:
            results = track_progress(make_sample, tasks)
        _write_lists(tmp, domains, results)
        for d in domains:
            if d.finish is not None:
                d.finish(os.path.join(tmp, d.root))
        for root in roots:
            if os.path.exists(os.path.join(out, root)):
                shutil.rmtree(os.path.join(out, root))
            os.rename(os.path.join(tmp, root), os.path.join(out, root))
        with open(os.path.join(tmp, MANIFEST), 'w') as f:
            json.dump(manifest, f, indent=2)
        os.replace(os.path.join(tmp, MANIFEST), os.path.join(out, MANIFEST))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _write_lists(tmp, domains, results):
    """train.txt / val.txt with one stem per line, for the formats that ship split lists."""
    for d in domains:
        if not d.lists:
            continue
        for split in ('train', 'val'):
            stems = [stem for name, s, stem in results if name == d.name and s == split]
            with open(os.path.join(tmp, d.root, f'{split}.txt'), 'w') as f:
                f.write(''.join(stem + '\n' for stem in stems))
