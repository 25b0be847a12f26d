"""A stopped process makes the other fail within the configured timeout.

Two CPU processes train the digits demo through tools/train.py
(``--launcher pytorch``, gloo); a hook stops rank 1 (SIGSTOP) at its third
iteration. With ``env_cfg.dist_cfg.timeout=5`` rank 0 must exit with an
error naming that timeout, long before the stopped process would be
noticed otherwise (it hung for minutes before, timeout or not).
"""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'

STOP_HOOK = '''
import os, signal
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class StopRank1Hook(Hook):
    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.rank == 1 and runner.iter == 2:
            os.kill(os.getpid(), getattr(signal, os.environ['STOP_SIGNAL']))
'''

CONFIG = f'''
_base_ = [{str(DEMO)!r}]
custom_imports = dict(imports=['mmghm', 'stop_rank1'],
                      allow_failed_imports=False)
custom_hooks = [
    dict(type='mmghm.ClassCountsHook'),
    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),
    dict(type='StopRank1Hook'),
]
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch_two_ranks(tmp_path, stop_signal, options=()):
    """Start both ranks; rank 1 sends itself ``stop_signal`` at its third
    iteration."""
    (tmp_path / 'stop_rank1.py').write_text(STOP_HOOK)
    (tmp_path / 'cfg.py').write_text(CONFIG)
    port = free_port()
    procs = []
    for rank in range(2):
        env = dict(
            os.environ, OMP_NUM_THREADS='1', RANK=str(rank),
            LOCAL_RANK=str(rank), WORLD_SIZE='2', MASTER_ADDR='127.0.0.1',
            MASTER_PORT=str(port), STOP_SIGNAL=stop_signal,
            PYTHONPATH=os.pathsep.join(
                [str(tmp_path)] + [os.environ.get('PYTHONPATH', '')]))
        procs.append(subprocess.Popen(
            [sys.executable, str(ROOT / 'tools/train.py'),
             str(tmp_path / 'cfg.py'), '--launcher', 'pytorch',
             '--work-dir', str(tmp_path / 'work'), '--cfg-options',
             'train_cfg.max_epochs=2', *options],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    return procs


@pytest.mark.skipif(not hasattr(signal, 'SIGSTOP'), reason='needs SIGSTOP')
def test_stopped_rank_makes_the_other_fail_naming_the_timeout(tmp_path):
    procs = launch_two_ranks(tmp_path, 'SIGSTOP',
                             ['env_cfg.dist_cfg.timeout=5'])
    try:
        # Without the timeout rank 0 waits 30 minutes (or forever).
        out, _ = procs[0].communicate(timeout=300)
        assert procs[0].returncode != 0, out[-3000:]
        assert 'env_cfg.dist_cfg.timeout=5 s' in out, out[-3000:]
        # rank 1 is still stopped: rank 0 did not wait for it to die
        assert procs[1].poll() is None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_killed_rank_makes_the_other_fail_at_once(tmp_path):
    """A rank that dies closes its connections: the other fails at its next
    collective, well inside the (default, 30-minute) timeout."""
    procs = launch_two_ranks(tmp_path, 'SIGKILL')  # timeout: 1800 s
    try:
        out, _ = procs[0].communicate(timeout=300)
        assert procs[0].returncode != 0, out[-3000:]
        assert procs[1].wait(timeout=60) == -signal.SIGKILL
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
