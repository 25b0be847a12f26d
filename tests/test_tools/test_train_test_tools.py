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
import subprocess
import sys
from pathlib import Path

import pytest
import torch

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


def test_stock_torch_load_refuses_the_checkpoint(trained):
    """Why the allow-list is needed: without mmghm, torch.load with its
    default weights_only=True rejects MMEngine's checkpoint."""
    code = ('import torch, sys\n'
            'try:\n'
            f'    torch.load({str(trained / "epoch_2.pth")!r})\n'
            'except Exception as e:\n'
            '    print(type(e).__name__, e); sys.exit(3)\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3
    assert 'weights_only' in proc.stdout or 'HistoryBuffer' in proc.stdout


def test_resume_then_test(trained, tmp_path):
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
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert 'group_accuracy/top1' in metrics
    preds_file = tmp_path / 'preds.pkl'
    run_tool([
        sys.executable, 'tools/test.py', str(CONFIG),
        str(work_dir / 'epoch_3.pth'), '--work-dir',
        str(tmp_path / 'test2'), '--out',
        str(preds_file)
    ])
    assert preds_file.stat().st_size > 1000


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


@pytest.mark.skipif(
    not torch.distributed.is_gloo_available(), reason='needs gloo')
def test_dist_train_two_cpu_processes(tmp_path):
    work_dir = tmp_path / 'dist'
    port = str(29500 + os.getpid() % 1000)
    out = run_tool([
        'bash', 'tools/dist_train.sh',
        str(CONFIG), '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1', *FAST
    ], env=dict(PYTHON=sys.executable, PORT=port, CUDA_VISIBLE_DEVICES=''))
    assert (work_dir / 'epoch_1.pth').is_file()
    assert 'Distributed launcher: pytorch' in out or 'distributed' in \
        out.lower()
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu')
    # 568 images, 2 ranks x 64 per batch -> 5 iterations per epoch
    assert ckpt['meta']['iter'] == 5
    assert int(ckpt['state_dict']['head.loss_module.num_updates']) == 1
    # the reference histogram holds all 568 images (summed over ranks),
    # not one rank's half: uniform bins in the first epoch, so counts
    ref = ckpt['state_dict']['head.loss_module.ref_density']
    assert ref.sum().item() == pytest.approx(568)
    assert osp.isfile(work_dir / 'last_checkpoint')
