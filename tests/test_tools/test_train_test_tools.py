"""Smoke tests of the command-line tools through the real Runner.

tools/train.py trains the README's digits demo for 2 epochs, ``--resume``
continues it (this fails on stock MMEngine 0.10.7 with torch >= 2.6, whose
``torch.load`` refuses the checkpoint's HistoryBuffer), tools/test.py
evaluates the checkpoint, and tools/dist_train.sh trains with 2 processes on
the CPU (stock MMEngine calls ``torch.cuda.set_device`` and passes
``device_ids`` to DDP, both of which fail without a GPU).
"""
import json
import os
import os.path as osp
import socket
import subprocess
import sys
from pathlib import Path

import mmengine
import pytest
import torch
from mmengine.utils import digit_version

import mmghm  # noqa: F401  (lets torch.load read MMEngine's checkpoints)

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'
FAST = [
    'train_dataloader.batch_size=64', 'train_cfg.val_interval=1',
    'default_hooks.logger.interval=1', 'randomness.seed=0'
]


def run_tool(args, env=None, timeout=900):
    full_env = dict(os.environ, OMP_NUM_THREADS='1', **(env or {}))
    proc = subprocess.run(
        args, cwd=ROOT, env=full_env, capture_output=True, text=True,
        timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def last_scalars(work_dir: Path) -> list:
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert logs, f'no scalars.json under {work_dir}'
    with open(logs[-1]) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """2 epochs of the demo through tools/train.py."""
    work_dir = tmp_path_factory.mktemp('train')
    run_tool([
        sys.executable, 'tools/train.py', str(CONFIG), '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=2', *FAST
    ])
    assert (work_dir / 'epoch_2.pth').is_file()
    return work_dir


def test_train_logs_group_accuracy_and_saves_histograms(trained):
    vals = [r for r in last_scalars(trained) if 'accuracy/top1' in r]
    assert len(vals) == 2
    assert any(k.startswith('group_accuracy/') for k in vals[-1])
    ckpt = torch.load(trained / 'epoch_2.pth', map_location='cpu')
    state = ckpt['state_dict']
    assert int(state['head.loss_module.num_updates']) == 2
    assert state['head.loss_module.ref_density'].sum() > 0


def stock_torch_load_error(path: Path) -> str:
    """``torch.load(path)`` in a fresh interpreter without mmghm: the error's
    text, or '' if it loaded."""
    code = ('import torch, sys\n'
            'try:\n'
            f'    torch.load({str(path)!r})\n'
            'except Exception as e:\n'
            '    print(type(e).__name__, e); sys.exit(3)\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    return proc.stdout if proc.returncode == 3 else ''


def test_resume_then_test(trained, tmp_path):
    """--resume continues a run that stock torch cannot load, and
    tools/test.py on the result reports what the run's last validation
    reported (same checkpoint, same data) and dumps one prediction per test
    image."""
    if digit_version(torch.__version__) >= digit_version('2.6.0'):
        # Why mmghm allow-lists MMEngine's classes: torch's default
        # weights_only=True refuses the checkpoint without them.
        error = stock_torch_load_error(trained / 'epoch_2.pth')
        assert 'weights_only' in error or 'HistoryBuffer' in error, error
    # resume from epoch 2 into a fresh work dir and train to epoch 3
    work_dir = tmp_path / 'resumed'
    out = run_tool([
        sys.executable, 'tools/train.py', str(CONFIG), '--work-dir',
        str(work_dir), '--resume',
        str(trained / 'epoch_2.pth'), '--cfg-options',
        'train_cfg.max_epochs=3', *FAST
    ])
    assert 'resumed epoch: 2' in out
    ckpt = torch.load(work_dir / 'epoch_3.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == 3
    assert int(ckpt['state_dict']['head.loss_module.num_updates']) == 3
    # the iteration counter continued from the checkpoint
    first = torch.load(trained / 'epoch_2.pth', map_location='cpu')
    per_epoch = first['meta']['iter'] // 2
    assert ckpt['meta']['iter'] == 3 * per_epoch
    last_val = [r for r in last_scalars(work_dir)
                if 'accuracy/top1' in r][-1]
    assert last_val['step'] == 3

    # evaluate it with tools/test.py, dumping the metrics
    metrics_file = tmp_path / 'metrics.json'
    run_tool([
        sys.executable, 'tools/test.py', str(CONFIG),
        str(work_dir / 'epoch_3.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(metrics_file), '--out-item', 'metrics'
    ])
    with open(metrics_file) as f:
        metrics = json.load(f)
    # the same metric keys as the training's validation (which also logs
    # step, lr, ...), and the same values: the test set is the val set
    val_metrics = {k: v for k, v in last_val.items()
                   if k.startswith(('accuracy/', 'group_accuracy/'))}
    assert set(metrics) == set(val_metrics)
    assert {'accuracy/top1', 'group_accuracy/many', 'group_accuracy/medium',
            'group_accuracy/few'} <= set(metrics)
    for key, value in val_metrics.items():
        assert metrics[key] == pytest.approx(value, abs=1e-4), key

    # and the predictions: one per test image (355), in data set order
    preds_file = tmp_path / 'preds.pkl'
    run_tool([
        sys.executable, 'tools/test.py', str(CONFIG),
        str(work_dir / 'epoch_3.pth'), '--work-dir',
        str(tmp_path / 'test2'), '--out',
        str(preds_file)
    ])
    preds = mmengine.load(str(preds_file))
    assert len(preds) == 355
    assert [p['sample_idx'] for p in preds] == list(range(355))
    correct = sum(int(p['pred_label']) == int(p['gt_label']) for p in preds)
    assert 100 * correct / 355 == pytest.approx(metrics['accuracy/top1'],
                                                abs=1e-4)


def test_auto_resume_without_path(trained, tmp_path):
    work_dir = tmp_path / 'auto'
    work_dir.mkdir()
    # `--resume` alone continues from the latest checkpoint in the work dir
    import shutil
    shutil.copy(trained / 'epoch_2.pth', work_dir / 'epoch_2.pth')
    (work_dir / 'last_checkpoint').write_text(
        str(work_dir / 'epoch_2.pth'))
    out = run_tool([
        sys.executable, 'tools/train.py', str(CONFIG), '--work-dir',
        str(work_dir), '--resume', '--cfg-options',
        'train_cfg.max_epochs=3', *FAST
    ])
    assert 'resumed epoch: 2' in out
    assert (work_dir / 'epoch_3.pth').is_file()


def test_bad_paths_give_clear_errors(tmp_path):
    proc = subprocess.run([
        sys.executable, 'tools/train.py', str(CONFIG), '--resume',
        str(tmp_path / 'missing.pth')
    ], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'missing.pth' in proc.stderr and 'not found' in proc.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(
    not torch.distributed.is_gloo_available(), reason='needs gloo')
def test_dist_train_two_cpu_processes(tmp_path):
    work_dir = tmp_path / 'dist'
    args = [
        'bash', 'tools/dist_train.sh',
        str(CONFIG), '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1', *FAST
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable,
               CUDA_VISIBLE_DEVICES='')
    # torchrun's rank 0 listens on a port chosen here; another process may
    # take it first (EADDRINUSE within a second or two): try another port.
    for _ in range(3):
        proc = subprocess.run(
            args, cwd=ROOT, env=dict(env, PORT=str(free_port())),
            capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        if proc.returncode == 0 or 'EADDRINUSE' not in out:
            break
    assert proc.returncode == 0, out[-6000:]
    assert (work_dir / 'epoch_1.pth').is_file()
    # MMEngine's environment report of the run (rank 0)
    assert 'Distributed launcher: pytorch' in out
    assert 'Distributed training: True' in out
    assert 'GPU number: 2' in out  # MMEngine's name for the world size
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu')
    # 568 images, 2 ranks x 64 per batch -> 5 iterations per epoch
    assert ckpt['meta']['iter'] == 5
    assert int(ckpt['state_dict']['head.loss_module.num_updates']) == 1
    # the reference histogram holds all 568 images (summed over ranks),
    # not one rank's half: uniform bins in the first epoch, so counts
    ref = ckpt['state_dict']['head.loss_module.ref_density']
    assert ref.sum().item() == pytest.approx(568)
    assert osp.isfile(work_dir / 'last_checkpoint')
