"""The training log stays readable: a 20-iteration DACS run started from a plain segmentor checkpoint logs
under 100 lines, with one summary where mmengine dumps per-tensor and per-hook lines; progress written to a file
is plain lines."""
import io

import pytest
import torch

from daseg.cli import load_config
from daseg.progress import LineProgress, TerminalProgress, progress_bar
from entry_points import ROOT, run_experiments
from tiny_demo import tiny_demo

CONFIG = str(ROOT / 'configs/demo/gta2cityscapes_dacs.py')
FAST = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'model.model.decode_head.channels=16',
        'model.model.decode_head.decoder_params.embed_dims=16',
        'train_dataloader.dataset.rare_class_sampling.min_pixels=20', 'model.model.data_preprocessor.size=(64,64)',
        'default_hooks.logger.interval=5', 'default_hooks.checkpoint.interval=20']
# What mmengine would otherwise write, hundreds of times for the tiny demo model.
NOISE = ('paramwise_options', 'requires_grad=False', 'Name of parameter', 'Initialization information',
         'missing keys', 'will be deprecated', 'Hooks will be executed in the following order:\nbefore_run',
         'custom_imports = dict(')
# One transformer block per MiT stage: the log does not depend on the depth, the test's duration does.
SHALLOW = ['model.model.backbone.num_layers=[1,1,1,1]']
# torch on one thread: two threads contend on a shared 2-core machine (the config text keeps its layout: the log is
# checked for mmengine's config dump).
pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp('logs')
    tiny_demo(base / 'data/demo', ('gta', 'cityscapes'), convert=('gta',), scale=0.03)
    return base


def plain_checkpoint(path):
    """A source-only model's checkpoint (the student's architecture, plain segmentor keys); returns the number of
    its parameter tensors."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    segmentor = MODELS.build(load_config(CONFIG, FAST, SHALLOW).model.model)
    torch.save(dict(state_dict=segmentor.state_dict(), meta=dict(iter=1000)), path)
    return len(list(segmentor.parameters()))


def test_short_dacs_run_from_a_source_only_model_logs_summaries(demo_dir, monkeypatch):
    monkeypatch.chdir(demo_dir)
    student = plain_checkpoint(demo_dir / 'source_only.pth')
    run_experiments.main(['--config', CONFIG, '--work-dir', 'work_dirs/dacs', '--cfg-options',
                          'train_cfg.max_iters=20', 'load_from=source_only.pth', *FAST, '--cfg-add', *SHALLOW])
    (log,) = (demo_dir / 'work_dirs/dacs').glob('*/*.log')
    text = log.read_text()
    lines = text.splitlines()
    assert len(lines) < 100, f'{len(lines)} lines'
    # No dump on one line (the 11,323-character missing-keys line of old); mmengine's environment report, whose
    # build-flags line depends on the torch build (2,226 characters for the CUDA wheel), ends with a dash line.
    after_environment = text.rsplit('-' * 60, 1)[-1].splitlines()
    assert max(len(line) for line in after_environment) < 2000
    assert '\r' not in text
    for noise in NOISE:
        assert noise not in text, noise
    assert text.count('student and teacher initialised from source_only.pth') == 1
    # One summary of the optimiser: the student's tensors only (the teacher is as large), in the DAFormer
    # recipe's groups.
    (summary,) = [line for line in lines if 'optimiser AdamW over' in line]
    assert f'over {student} trainable tensors' in summary and f'{student} frozen tensors not optimised' in summary
    assert ' 3 group(s): ' in summary and 'lr 0.01 wd 0.01 (' in summary and 'lr 0.001 wd 0 (' in summary
    assert sum('Iter(train)' in line for line in lines) == 4  # every 5 of 20 iterations


def test_optimiser_without_paramwise_cfg_holds_the_trainable_parameters_only():
    from mmengine.optim import build_optim_wrapper

    from daseg.engine.param_groups import with_merged_groups
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    model[0].requires_grad_(False)  # e.g. a teacher
    wrapper = build_optim_wrapper(model, with_merged_groups(dict(type='OptimWrapper',
                                                                 optimizer=dict(type='SGD', lr=0.1))))
    (group,) = wrapper.optimizer.param_groups
    assert [id(p) for p in group['params']] == [id(p) for p in model[1].parameters()]


def test_progress_written_to_a_file_is_plain_lines():
    out = io.StringIO()
    bar = progress_bar(25, out)
    assert isinstance(bar, LineProgress)
    for _ in range(25):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert '\r' not in out.getvalue()
    assert len(lines) == 10 and lines[0].startswith('3/25, ') and lines[-1].startswith('25/25, ')
    assert all('ETA' in line for line in lines)


def test_progress_on_a_terminal_is_the_redrawn_bar():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert isinstance(progress_bar(3, Terminal()), TerminalProgress)
