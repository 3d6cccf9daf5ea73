"""The DDB pipeline end to end on tiny demo data (CPU, --deterministic): round 1 from one command (two teachers
with their prototypes next to their checkpoints, the student, the evaluation table); a run killed inside the
student stage and run again ends with the same checkpoint as an uninterrupted run; round 2 starts its teachers
from the round-1 student at the round-2 rate; processes of a distributed run follow the main one."""
import json
import shutil
import threading

import pytest
import torch

from daseg.errors import UserError
from daseg.models.ddb import load_prototypes
from daseg.models.uda.ckd import CKD
from daseg.pipelines import Stage, run_pipeline
from daseg.weights import load_checkpoint_file
from entry_points import ROOT, load_script, run_experiments
from interrupt import interrupt_at
from tiny_demo import tiny_demo

CONFIG = str(ROOT / 'configs/demo/ddb_gta_synscapes2cityscapes.py')
STAGES = ['r1_teacher_cu', 'r1_teacher_ca', 'r1_student', 'eval']
FAST = ['stages.iters.teacher=2', 'stages.iters.student=4', 'stages.prototypes.epochs=1',
        'stages.prototypes.workers=0', 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False', 'train_dataloader.batch_size=2']
# Short training runs: torch on one thread (2 threads contend on a shared 2-core machine), config text unformatted.
pytestmark = pytest.mark.usefixtures('one_thread', 'plain_config_text')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    """data/demo with a few 64x32 images of the GTA-, Synscapes- and Cityscapes-like domains, converted."""
    base = tmp_path_factory.mktemp('ddb')
    domains = ('gta', 'synscapes', 'cityscapes')
    tiny_demo(base / 'data/demo', domains, convert=domains, size=(64, 32))
    return base


def run(demo_dir, monkeypatch, work_dir, *flags):
    monkeypatch.chdir(demo_dir)
    run_experiments.main([CONFIG, '--work-dir', work_dir, '--deterministic', *flags, '--cfg-options', *FAST,
                          f'stages.init={demo_dir / "init.pth"}'])
    return demo_dir / work_dir


@pytest.fixture(scope='module')
def init(demo_dir):
    """A plain segmentor checkpoint of the demo's architecture, the start of the teachers and the student (as
    the demo's source-only model)."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from daseg.cli import load_config
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(load_config(CONFIG).model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, demo_dir / 'init.pth')
    return model.state_dict()


@pytest.fixture(scope='module')
def uninterrupted(demo_dir, init, one_thread, plain_config_text):
    with pytest.MonkeyPatch.context() as mp:
        return run(demo_dir, mp, 'work_dirs/whole')


def test_round_one_from_one_command(uninterrupted, init):
    out = uninterrupted
    assert json.loads((out / 'pipeline.json').read_text())['stages'] == STAGES
    for path in ('cu', 'ca'):
        record = json.loads((out / f'r1_teacher_{path}/DONE.json').read_text())['record']
        assert record['checkpoint'] == str(out / f'r1_teacher_{path}/iter_2.pth')
        # the prototypes lie next to the teacher's checkpoint and say where they come from
        prototypes, counts, provenance = load_prototypes(str(out / f'r1_teacher_{path}/prototypes.pth'))
        assert prototypes.shape == (19, 64) and provenance['checkpoint'] == record['checkpoint']
        assert record['classes_without_prototype'] == torch.nonzero(counts == 0).flatten().tolist()
    student = load_checkpoint_file(str(out / 'r1_student/iter_4.pth'))['state_dict']
    assert {k.split('.')[0] for k in student} == {'stu_model', 'cu_model', 'ca_model', 'ckd'}
    # the student's teachers are the teacher stages' students (not the init the student itself starts from)
    key = 'decode_head.conv_seg.weight'
    for path in ('cu', 'ca'):
        teacher = load_checkpoint_file(str(out / f'r1_teacher_{path}/iter_2.pth'))['state_dict']
        assert torch.equal(student[f'{path}_model.{key}'], teacher[f'model.{key}'])
        assert not torch.equal(teacher[f'model.{key}'], init[key])
    results = json.loads((out / 'eval/results.json').read_text())
    assert [e['label'] for e in results['checkpoints']] == [
        'round 1 teacher, region path (CutMix)', 'round 1 teacher, class path (ClassMix)', 'round 1 student (CKD)']
    assert list(results['checkpoints'][0]['targets']) == ['cityscapes']


def test_killed_in_the_student_stage_then_rerun_ends_the_same(uninterrupted, demo_dir, monkeypatch):
    killed = demo_dir / 'work_dirs/killed'
    killed.mkdir(parents=True)
    # The teachers as the uninterrupted run left them (their records point there): the rerun reuses them.
    for name in ('pipeline.json', 'r1_teacher_cu', 'r1_teacher_ca'):
        (shutil.copytree if (uninterrupted / name).is_dir() else shutil.copy)(uninterrupted / name, killed / name)
    real_step = interrupt_at(monkeypatch, CKD, 3)  # as a kill after the checkpoint of iteration 2
    with pytest.raises(KeyboardInterrupt):
        run(demo_dir, monkeypatch, 'work_dirs/killed', '--resume')
    assert (killed / 'r1_student/iter_2.pth').is_file() and not (killed / 'r1_student/DONE.json').exists()
    monkeypatch.setattr(CKD, 'train_step', real_step)
    run(demo_dir, monkeypatch, 'work_dirs/killed', '--resume')
    a = load_checkpoint_file(str(uninterrupted / 'r1_student/iter_4.pth'))['state_dict']
    b = load_checkpoint_file(str(killed / 'r1_student/iter_4.pth'))['state_dict']
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-5), key
    assert (killed / 'eval/DONE.json').is_file()


def test_round_two_teachers_start_from_the_round_one_student(tmp_path, monkeypatch):
    """The stages' configs, without training: the round-2 teachers load the round-1 student at the round-2 rate,
    every student and the round-1 teachers start from ``init``."""
    from daseg.cli import load_config
    from daseg.pipelines import build_stages
    from daseg.pipelines import ddb
    trained = []

    def fake_train(folder, cfg, log=print):
        trained.append((folder.split('/')[-1], cfg.model.type, cfg.get('load_from'),
                        cfg.optim_wrapper.optimizer.lr))
        return f'{folder}/iter_2.pth'

    monkeypatch.setattr(ddb, 'train_in', fake_train)
    monkeypatch.setattr(ddb, 'compute_prototypes', lambda *a, **k: {'prototypes': 'p.pth',
                                                                   'classes_without_prototype': []})
    monkeypatch.setattr(ddb.DDBStages, '_evaluate', lambda self, folder, cfg, records: {})
    init = tmp_path / 'source_only.pth'
    init.write_bytes(b'')
    cfg = load_config(CONFIG, ['stages.rounds=2', f'stages.init={init}'])
    run_pipeline(str(tmp_path / 'run'), build_stages(cfg), log=lambda line: None)
    lr = cfg.optim_wrapper.optimizer.lr
    r1 = str(tmp_path / 'run/r1_student/iter_2.pth')
    assert trained == [('r1_teacher_cu', 'UDAWrapper', str(init), lr), ('r1_teacher_ca', 'UDAWrapper', str(init), lr),
                       ('r1_student', 'CKD', str(init), lr), ('r2_teacher_cu', 'UDAWrapper', r1, 6e-6),
                       ('r2_teacher_ca', 'UDAWrapper', r1, 6e-6), ('r2_student', 'CKD', str(init), lr)]


def test_other_processes_follow_the_main_one(tmp_path, monkeypatch):
    """Rank 1 runs the distributed stages with rank 0, waits for the main-process stages, and reads their records
    from DONE.json; a stage that cannot run in several processes is refused."""
    from daseg.pipelines import runner
    monkeypatch.setattr(runner, '_POLL', 0.01)
    ran = {0: [], 1: []}
    together = threading.Barrier(2, timeout=30)  # a distributed training needs every process

    def stages(rank):
        def work(name, distributed):
            def run(folder, records):
                ran[rank].append((name, sorted(records)))
                if distributed:
                    together.wait()
                return {'by': rank, 'name': name}
            return run
        return [Stage('train', work('train', True), {'a': 1}, processes='all'),
                Stage('prototypes', work('prototypes', False), {'b': 2}, processes='main'),
                Stage('student', work('student', True), {'c': 3}, processes='all')]

    follower = {}
    thread = threading.Thread(target=lambda: follower.update(run_pipeline(str(tmp_path), stages(1), rank=1,
                                                                          world_size=2)))
    thread.start()
    main = run_pipeline(str(tmp_path), stages(0), log=lambda line: None, world_size=2)
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert ran[0] == [('train', []), ('prototypes', ['train']), ('student', ['prototypes', 'train'])]
    assert ran[1] == [('train', []), ('student', ['prototypes', 'train'])]
    assert follower == main and main['prototypes'] == {'by': 0, 'name': 'prototypes'}
    with pytest.raises(UserError, match='run in one process only'):
        run_pipeline(str(tmp_path / 'x'), [Stage('s', lambda f, r: {}, processes='one')], world_size=2)


def test_prototype_tool_equals_the_pipeline_step(uninterrupted, demo_dir, monkeypatch, capsys):
    """tools/prototypes.py on a teacher checkpoint (its default: the config's prototype data) writes what the
    pipeline wrote beside it, and refuses to replace a file without --force."""
    tool = load_script('tools/prototypes')
    monkeypatch.chdir(demo_dir)
    teacher = str(uninterrupted / 'r1_teacher_ca/iter_2.pth')
    out = str(demo_dir / 'ca_prototypes.pth')
    tool.main([CONFIG, teacher, '--out', out, '--epochs', '1', '--workers', '0', '--batch-size', '3',
               '--cfg-options', *FAST])
    assert f'wrote {out}' in capsys.readouterr().out
    mine, counts, provenance = load_prototypes(out)
    theirs, their_counts, _ = load_prototypes(str(uninterrupted / 'r1_teacher_ca/prototypes.pth'))
    assert torch.allclose(mine, theirs, atol=1e-5) and torch.equal(counts, their_counts)
    assert provenance['checkpoint'] == teacher and provenance['epochs'] == 1
    with pytest.raises(UserError, match='exists; pass --force'):
        tool.main([CONFIG, teacher, '--out', out, '--epochs', '1', '--workers', '0'])
