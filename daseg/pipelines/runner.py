"""Multi-stage methods as one command: stages run in order, each in its own sub-folder of the work dir; a stage
that finished is skipped when the command runs again, and one that was interrupted starts again (a training stage
continues from its latest complete checkpoint).

A stage is done when its folder holds ``DONE.json`` (written atomically, last): what it produced (its record) and
a fingerprint of what it was made from (its own settings and every earlier stage's fingerprint). Running the
pipeline again with other settings for a stage that is done stops with a line naming its folder, instead of
silently reusing or redoing it.

Under ``torchrun`` (``--launcher pytorch``) every process walks the same stages. The main process (rank 0) holds
the locks and writes every ``DONE.json``; a stage that trains with all processes (``processes='all'``, a DDP
training) runs in each of them, and a stage of the main process alone (``'main'``: prototypes, pseudo-labels,
evaluation) runs there while the others wait for its ``DONE.json``. A pipeline with a stage that cannot run in
several processes (``'one'``) is refused before any work.
"""
import hashlib
import json
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Callable

from ..atomic import atomic_write_text
from ..errors import UserError
from ..locks import folder_lock

DONE_NAME = 'DONE.json'
PIPELINE_NAME = 'pipeline.json'
PROCESSES = ('main', 'all', 'one')
# How often a waiting process looks for the main process's DONE.json (seconds).
_POLL = 2.0


@dataclass
class Stage:
    """One step of a pipeline.

    Attributes:
        name (str): its sub-folder and its name in messages, e.g. ``'stage0_gta'``.
        run (callable): ``run(folder, records) -> dict``: does the work in ``folder`` (created beforehand) and
            returns its record (JSON data, e.g. the checkpoint it wrote); ``records`` maps the earlier stages'
            names to theirs.
        settings (dict): JSON data that decides its result (configs, options), fingerprinted.
        processes (str): in a run of several processes: ``'main'`` the main process runs it, the others wait;
            ``'all'`` every process runs it (a distributed training; the main process's record counts);
            ``'one'`` it cannot run in several processes (the pipeline is then refused).
    """

    name: str
    run: Callable[[str, dict], dict]
    settings: dict = field(default_factory=dict)
    processes: str = 'main'

    def __post_init__(self):
        if self.processes not in PROCESSES:
            raise ValueError(f'Stage.processes must be one of {PROCESSES}, got {self.processes!r}')


def fingerprint(settings, previous=''):
    """A digest of a stage's settings chained to the previous stage's fingerprint."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256((previous + text).encode('utf-8')).hexdigest()[:16]


def read_done(folder):
    """The DONE.json of a stage folder, or None while the stage is not done."""
    path = osp.join(folder, DONE_NAME)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as exc:
        raise UserError(f'{path} cannot be read ({exc}); remove it to run the stage again') from None


def run_pipeline(work_dir, stages, resume=False, log=print, rank=0, world_size=1):
    """Run the stages that are not done, in order.

    Args:
        work_dir (str): the pipeline's folder; one pipeline at a time holds it.
        stages (Sequence[Stage]): in order; names must be unique.
        resume (bool): continue a pipeline that ``work_dir`` already holds (else such a folder is refused).
        log (callable): where progress lines go.
        rank (int): this process's rank in a run of ``world_size`` processes (see the module docstring).
        world_size (int): number of processes.

    Returns:
        dict[str, dict]: each stage's record.
    """
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise UserError(f'pipeline stages must have unique names, got {names}')
    single = [s.name for s in stages if s.processes == 'one']
    if world_size > 1 and single:
        raise UserError(f'stages {", ".join(single)} run in one process only (they make several optimiser steps '
                        'per iteration, which the distributed wrapper does not); run without --launcher')
    # Records name files by absolute paths: a resumed run may start from another folder.
    work_dir = osp.abspath(work_dir)
    if rank != 0:
        return _follow(work_dir, stages)
    records, previous = {}, ''
    with folder_lock(work_dir, 'pipeline'):
        marker = osp.join(work_dir, PIPELINE_NAME)
        if osp.exists(marker) and not resume:
            raise UserError(f'{work_dir} already holds a pipeline run; add --resume to continue it (stages that '
                            'are done are skipped) or choose another --work-dir')
        if not osp.exists(marker):
            atomic_write_text(marker, json.dumps({'stages': names}, indent=2) + '\n')
        for index, stage in enumerate(stages, 1):
            folder = osp.join(work_dir, stage.name)
            stamp = fingerprint(stage.settings, previous)
            done = read_done(folder)
            if done is not None:
                if done.get('fingerprint') != stamp:
                    raise UserError(f'stage {stage.name} was done with other settings or inputs than this run\'s '
                                    f'({folder}); remove that folder (and the later stages\') to run it again, '
                                    'or choose another --work-dir')
                log(f'[{index}/{len(stages)}] {stage.name}: done, skipped ({folder})')
            else:
                log(f'[{index}/{len(stages)}] {stage.name}: running in {folder}')
                with folder_lock(folder, stage.name):
                    record = stage.run(folder, dict(records))
                done = {'stage': stage.name, 'fingerprint': stamp, 'record': record}
                atomic_write_text(osp.join(folder, DONE_NAME), json.dumps(done, indent=2) + '\n')
            records[stage.name] = done['record']
            previous = stamp
    return records


def _follow(work_dir, stages):
    """A process other than the main one: run the ``'all'`` stages with it, wait for every stage's DONE.json.

    A stage done before (a resumed run) is skipped at once; the main process checks its fingerprint. Should the
    main process fail, torchrun stops the others, so waiting needs no timeout.
    """
    records, previous = {}, ''
    for stage in stages:
        folder = osp.join(work_dir, stage.name)
        stamp = fingerprint(stage.settings, previous)
        done = read_done(folder)
        if (done is None or done.get('fingerprint') != stamp) and stage.processes == 'all':
            stage.run(folder, dict(records))
        while done is None or done.get('fingerprint') != stamp:
            time.sleep(_POLL)
            done = read_done(folder)
        records[stage.name] = done['record']
        previous = stamp
    return records
