"""No partial file ever gets a final name: checkpoints (AtomicCheckpointHook,
the default of mmghm's configs), ``last_checkpoint`` and result files are
written to a temporary name and renamed.

The fault is built here: a disk that fills up half-way through writing a
file (``OSError(ENOSPC)`` after half the bytes), injected into ``open``.
"""
import builtins
import errno
import json
import os

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

import mmghm.utils.files as files
from mmghm.results.files import write_result
from mmghm.utils.checkpoint_files import checkpoint_problem
from mmghm.utils.files import (AtomicLocalBackend, atomic_json_dump,
                               atomic_write)


class _HalfWritten:
    """A file whose disk fills up after half of what is written."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[:len(data) // 2])
        self._f.flush()
        raise OSError(errno.ENOSPC, 'No space left on device')

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def disk_full_for(monkeypatch):
    """``disk_full_for('epoch_3.pth')``: writing any file whose name holds
    that text fails half-way (whichever code opens it)."""
    names = []
    real_open = builtins.open

    def fake_open(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if 'w' in mode and any(n in os.fspath(file) for n in names):
            return _HalfWritten(f)
        return f

    monkeypatch.setattr(builtins, 'open', fake_open)
    return names.append


def listing(folder):
    return sorted(p.name for p in folder.iterdir())


def saved(work_dir):
    """The files of a work dir but its log folder and dumped config
    (hidden temporaries included)."""
    return [n for n in listing(work_dir)
            if not (work_dir / n).is_dir() and not n.endswith('.py')]


def test_atomic_write_keeps_the_old_file_when_the_disk_fills(
        tmp_path, disk_full_for):
    path = tmp_path / 'result.json'
    atomic_write(path, '{"top1": 1.0}\n')
    disk_full_for('result.json')
    with pytest.raises(OSError, match='No space left'):
        atomic_write(path, '{"top1": 2.0, "padding": "' + 'x' * 1000 + '"}')
    assert path.read_text() == '{"top1": 1.0}\n'
    assert listing(tmp_path) == ['result.json']  # no temporary left


def test_without_atomic_write_the_partial_file_has_the_final_name(
        tmp_path, disk_full_for):
    """The fault itself: a plain write leaves half a file."""
    path = tmp_path / 'result.json'
    disk_full_for('result.json')
    with pytest.raises(OSError):
        with open(path, 'w') as f:
            f.write('{"top1": 2.0}')
    assert path.read_text() == '{"top1'  # half of '{"top1": 2.0}'


def test_unserialisable_result_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        atomic_json_dump({'x': object()}, tmp_path / 'r.json')
    assert listing(tmp_path) == []


def test_results_writer_is_atomic(tmp_path, disk_full_for):
    result = dict(config='configs/softmax/softmax_x.py', variant=None,
                  seed=0, measured={}, metrics={'accuracy/top1': 50.0})
    path = write_result(result, str(tmp_path), 'suite')
    before = open(path).read()
    assert json.loads(before)['metrics'] == {'accuracy/top1': 50.0}
    disk_full_for('seed0.json')
    result['metrics'] = {'accuracy/top1': 60.0}
    with pytest.raises(OSError):
        write_result(result, str(tmp_path), 'suite')
    assert open(path).read() == before


def test_backend_put_is_atomic(tmp_path, disk_full_for):
    backend = AtomicLocalBackend()
    backend.put(b'old', tmp_path / 'epoch_1.pth')
    disk_full_for('epoch_1.pth')
    with pytest.raises(OSError):
        backend.put(b'new checkpoint bytes', tmp_path / 'epoch_1.pth')
    assert (tmp_path / 'epoch_1.pth').read_bytes() == b'old'
    assert listing(tmp_path) == ['epoch_1.pth']


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 10)  # 10 classes

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.linear(inputs)  # (default_collate stacked them)
        if mode == 'loss':
            return dict(loss=torch.nn.functional.cross_entropy(
                logits, labels))
        return logits


def toy_runner(work_dir, hook_type):
    gen = torch.Generator().manual_seed(0)
    data = [dict(inputs=torch.randn(4, generator=gen),
                 labels=torch.tensor(i % 10)) for i in range(20)]
    return Runner(
        model=ToyModel(), work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data, batch_size=10,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=3),
        default_hooks=dict(checkpoint=dict(type=hook_type, interval=1,
                                           max_keep_ckpts=1)),
        default_scope='mmengine', experiment_name=f'toy_{hook_type}')


@pytest.mark.parametrize('hook_type', ['mmghm.AtomicCheckpointHook'])
def test_disk_full_while_saving_keeps_the_previous_checkpoint(
        tmp_path, disk_full_for, hook_type):
    """max_keep_ckpts=1, disk full while saving epoch 3: epoch_2.pth stays
    intact and named by last_checkpoint, no epoch_3.pth appears (MMEngine's
    CheckpointHook deletes epoch_2.pth first, then leaves a partial
    epoch_3.pth)."""
    runner = toy_runner(tmp_path, hook_type)
    disk_full_for('epoch_3.pth')
    with pytest.raises(OSError, match='No space left'):
        runner.train()
    names = saved(tmp_path)
    assert names == ['epoch_2.pth', 'last_checkpoint']
    assert checkpoint_problem(str(tmp_path / 'epoch_2.pth')) is None
    assert (tmp_path / 'last_checkpoint').read_text() == str(
        tmp_path / 'epoch_2.pth')
    ckpt = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 2


def test_atomic_hook_saves_like_mmengines(tmp_path):
    runner = toy_runner(tmp_path, 'mmghm.AtomicCheckpointHook')
    runner.train()
    names = saved(tmp_path)
    assert names == ['epoch_3.pth', 'last_checkpoint']
    ckpt = torch.load(tmp_path / 'epoch_3.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 3
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [3]
    torch.testing.assert_close(ckpt['state_dict']['linear.weight'],
                               runner.model.linear.weight)
    assert files.ATOMIC_LOCAL_BACKEND == 'mmghm_atomic_local'
