"""Several processes (gloo on the CPU): averaged gradients equal the gradient of the concatenated batch, DACS starts
from rank 0's weights and keeps student and teacher identical on every rank, BN buffers are made equal before
evaluation, torch's DDP all-reduces in the last backward pass of a step only, the runner picks the right wrapper,
and tools/dist_train.sh trains the demo with 2 processes."""
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel

from daseg.engine.runner import DasegRunner
from daseg.engine.uda_parallel import LastBackwardSyncs, UDADistributedWrapper
from daseg.errors import UserError
from entry_points import ROOT, run_experiments
from speed_models import batch, build_dacs, step

WORLD = 2


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def gathered(tensors):
    """The concatenation of ``tensors`` on every rank, as a list indexed by rank."""
    flat = torch.cat([t.detach().reshape(-1).float() for t in tensors])
    out = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(out, flat)
    return out


def check_gradient_average(rank):
    torch.manual_seed(0)  # the same model on both ranks
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    reference = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    reference.load_state_dict(model.state_dict())
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 5, generator=generator), torch.randn(8, 3, generator=generator)
    F.mse_loss(reference(x), y).backward()  # one process, the whole batch
    ddp = DistributedDataParallel(model)
    wrapper = LastBackwardSyncs(OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)), ddp, components=2)
    # This rank's half in two backward passes, as a UDA step has one per component: the first (under no_sync)
    # accumulates, the second all-reduces the sum.
    for quarter in (slice(4 * rank, 4 * rank + 2), slice(4 * rank + 2, 4 * rank + 4)):
        with wrapper.optim_context(model):
            loss = F.mse_loss(ddp(x[quarter]), y[quarter]) / 2
        wrapper.backward(loss)
        if quarter.start == 4 * rank:  # after the first: this rank's first quarter alone
            local = [p.grad.clone() for p in model.parameters()]
    wrapper.step()
    for param, ref, own in zip(model.parameters(), reference.parameters(), local):
        torch.testing.assert_close(param.grad, ref.grad, rtol=1e-6, atol=1e-7)
        assert not torch.allclose(own, ref.grad)  # one half alone gives another gradient
        torch.testing.assert_close(param.detach(), ref.detach() - 0.1 * ref.grad, rtol=1e-6, atol=1e-7)


def check_dacs_replicas(rank):
    # Different initial weights on purpose: the wrapper must start every rank from rank 0's.
    model = build_dacs(size=(32, 32), seed=100 + rank)
    wrapper = UDADistributedWrapper(model)
    start = gathered(model.parameters())
    assert torch.equal(start[0], start[1])
    optim_wrapper = OptimWrapper(torch.optim.AdamW(model.model.parameters(), lr=1e-3))
    for iteration in range(3):
        # Each rank its own data, as the rank-sharded samplers give it.
        data = batch((32, 32), seed=10 * iteration + rank)
        outputs = step(wrapper, optim_wrapper, data, iteration)
    losses = gathered([outputs['src.loss']])
    assert not torch.equal(losses[0], losses[1])  # the ranks did see different batches
    student, teacher = gathered(model.model.parameters()), gathered(model.ema_model.parameters())
    assert torch.equal(student[0], student[1]) and torch.equal(teacher[0], teacher[1])
    assert not torch.equal(student[0], teacher[0])  # the teacher is an average, not a copy
    assert not torch.equal(student[0], start[0])  # and training moved the student
    # BatchNorm statistics are per rank until evaluation, which uses rank 0's everywhere.
    running = [b for name, b in model.model.named_buffers() if name.endswith('running_mean')]
    before = gathered(running)
    assert not torch.equal(before[0], before[1])
    wrapper.eval()  # as mmengine's ValLoop does
    wrapper.val_step(dict(inputs=data['inputs'], data_samples=data['data_samples']))
    after = gathered(running)
    assert torch.equal(after[0], after[1]) and torch.equal(after[0], before[0])


class BackwardLog(OptimWrapper):
    """Records, after each backward pass, how many buckets DDP's all-reduce (``calls``) had sent so far."""

    def __init__(self, optimizer, calls):
        super().__init__(optimizer)
        self.calls, self.after_backward = calls, []

    def backward(self, loss, **kwargs):
        super().backward(loss, **kwargs)
        self.after_backward.append(len(self.calls))


def check_ddp_syncs_the_last_backward_only(rank):
    model = build_dacs(size=(32, 32))
    wrapper = UDADistributedWrapper(model)
    calls = []

    def counted_allreduce(state, bucket):
        calls.append(bucket.index())
        return allreduce_hook(state, bucket)

    wrapper.ddp.register_comm_hook(None, counted_allreduce)
    optim_wrapper = BackwardLog(torch.optim.SGD(model.model.parameters(), lr=1e-3), calls)
    for iteration in range(2):
        step(wrapper, optim_wrapper, batch((32, 32), seed=10 * iteration + rank), iteration)
    # Two components (source, ClassMix) per step: nothing is sent in the first backward pass of a step (no_sync),
    # all of DDP's buckets in the second, and they average the student's gradient, as the replica test checks.
    first, second, third, fourth = optim_wrapper.after_backward
    assert first == 0 and second > 0 and third == second and fourth - third == len(set(calls[second:]))


def worker(rank, port):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    dist.init_process_group('gloo', rank=rank, world_size=WORLD)
    try:
        check_gradient_average(rank)
        check_dacs_replicas(rank)
        check_ddp_syncs_the_last_backward_only(rank)
    finally:
        dist.destroy_process_group()


def test_two_processes_average_gradients_and_keep_identical_replicas():
    # Forked, not spawned: a spawned process imports torch and the package again (seconds each); the real launch
    # (torchrun) is the dist_train.sh test's.
    mp.start_processes(worker, args=(free_port(),), nprocs=WORLD, join=True, start_method='fork')


def test_runner_trains_uda_models_with_the_uda_wrapper_only():
    runner = object.__new__(DasegRunner)  # only wrap_model's choice is exercised
    runner._distributed = True
    model = build_dacs(size=(32, 32))
    with pytest.raises(UserError, match="model_wrapper_cfg.type='MMDistributedDataParallel' cannot train DACS"):
        runner.wrap_model(dict(type='MMDistributedDataParallel'), model)


def test_launcher_pytorch_needs_a_shared_work_dir(monkeypatch):
    monkeypatch.delenv('DASEG_RUN_TIMESTAMP', raising=False)
    args = run_experiments.parse_args(['--config', str(ROOT / 'configs/demo/gta2cityscapes_dacs.py'),
                                       '--launcher', 'pytorch'])
    with pytest.raises(UserError, match='--launcher pytorch needs --work-dir'):
        run_experiments.prepare_config(args)
    monkeypatch.setenv('DASEG_RUN_TIMESTAMP', '250101_000000')
    assert run_experiments.prepare_config(args).work_dir == 'work_dirs/250101_000000_gta2cityscapes_dacs'
    sync_bn = run_experiments.parse_args(['--config', str(ROOT / 'configs/demo/gta2cityscapes_dacs.py'),
                                          '--launcher', 'pytorch', '--sync-bn'])
    assert run_experiments.prepare_config(sync_bn).sync_bn == 'torch'
    with pytest.raises(UserError, match='--sync-bn needs --launcher pytorch'):
        run_experiments.prepare_config(run_experiments.parse_args(
            ['--config', str(ROOT / 'configs/demo/gta2cityscapes_dacs.py'), '--sync-bn']))
    args = run_experiments.parse_args(['--config', str(ROOT / 'configs/demo/gta2cityscapes_dacs.py'),
                                       '--scale-lr'])
    assert run_experiments.prepare_config(args).auto_scale_lr == dict(enable=True, base_batch_size=4)


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    from tiny_demo import tiny_demo
    base = tmp_path_factory.mktemp('dist_train')
    tiny_demo(base / 'data/demo', ('gta', 'cityscapes'), convert=('gta',), scale=0.03)
    return base


def test_dist_train_script_trains_the_demo_with_two_processes(demo_dir):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()), OMP_NUM_THREADS='1')
    command = ['bash', str(ROOT / 'tools/dist_train.sh'), str(ROOT / 'configs/demo/gta2cityscapes_dacs.py'), '2',
               '--work-dir', 'work_dirs/dist', '--cfg-options', 'train_cfg.max_iters=2',
               'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
               'train_dataloader.persistent_workers=False', 'model.model.decode_head.channels=16',
               'model.model.decode_head.decoder_params.embed_dims=16',
               'train_dataloader.dataset.rare_class_sampling.min_pixels=20', 'default_hooks.checkpoint.interval=2']
    done = subprocess.run(command, cwd=demo_dir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    from daseg.weights import load_checkpoint_file
    state = load_checkpoint_file(str(demo_dir / 'work_dirs/dist/iter_2.pth'))['state_dict']
    assert any(k.startswith('model.') for k in state) and any(k.startswith('ema_model.') for k in state)
    assert not any(k.startswith('module.') for k in state)
    assert sorted(p.name for p in (demo_dir / 'work_dirs').iterdir()) == ['dist']
