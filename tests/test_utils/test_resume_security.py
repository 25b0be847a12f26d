"""Auto-resume reads ``<work_dir>/last_checkpoint``, a file whoever can write
the work dir controls: mmghm resolves it (``resolve_resume``) and refuses
what leads outside the work dir, URLs, non-regular files and odd contents,
before anything is opened; a truncated newest checkpoint is skipped for the
newest intact one.

Each attack is built here, with a valid checkpoint outside the work dir
that MMEngine's own ``find_latest_checkpoint`` would hand to
``Runner.resume``; the tests record every file opened and show it is not.
"""
import builtins
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmghm.utils.checkpoint_files import (MAX_LAST_CHECKPOINT_BYTES,
                                          CheckpointPathError,
                                          checkpoint_problem,
                                          latest_intact_checkpoint)
from mmghm.utils.launch import resolve_resume

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'


def save_checkpoint(path: Path, epoch: int) -> Path:
    """A small checkpoint in torch.save's zip format (8 classes' head)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'meta': {'epoch': epoch, 'iter': 10 * epoch},
                'state_dict': {'head.fc.weight': torch.full((8, 4),
                                                            float(epoch))}},
               str(path))
    return path


def truncate(path: Path) -> Path:
    """What a crash while saving leaves: the first half of the file."""
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def config(work_dir: Path, **kwargs) -> Config:
    return Config(dict(work_dir=str(work_dir), resume=False, load_from=None,
                       **kwargs))


@pytest.fixture
def dirs(tmp_path):
    """(work dir, outside dir holding an intact ``epoch_9.pth``)."""
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    outside = tmp_path / 'outside'
    save_checkpoint(outside / 'epoch_9.pth', 9)
    return work_dir, outside


@pytest.fixture
def opened(monkeypatch):
    """The files really opened (builtins/io.open, os.open), as the kernel
    resolved them (``/proc/self/fd``): a refused link is not counted."""
    seen = []
    real_open, real_os_open = builtins.open, os.open

    def record(fd):
        seen.append(os.readlink(f'/proc/self/fd/{fd}'))

    def fake_open(file, *args, **kwargs):
        f = real_open(file, *args, **kwargs)
        record(f.fileno())
        return f

    def fake_os_open(path, *args, **kwargs):
        fd = real_os_open(path, *args, **kwargs)
        record(fd)
        return fd

    monkeypatch.setattr(builtins, 'open', fake_open)
    monkeypatch.setattr(io, 'open', fake_open)
    monkeypatch.setattr(os, 'open', fake_os_open)
    return seen


def assert_refused(cfg, match, opened, outside):
    opened.clear()  # what the test itself wrote
    with pytest.raises(CheckpointPathError, match=match):
        resolve_resume(cfg, 'auto')
    leaked = [p for p in opened if p.startswith(str(outside))]
    assert leaked == [], f'opened outside the work dir: {leaked}'
    assert cfg.load_from is None  # nothing handed to MMEngine


def test_the_open_recorder_sees_what_auto_resume_reads(dirs, opened):
    work_dir, _ = dirs
    ckpt = save_checkpoint(work_dir / 'epoch_1.pth', 1)
    (work_dir / 'last_checkpoint').write_text(str(ckpt))
    opened.clear()
    cfg = config(work_dir)
    resolve_resume(cfg, 'auto')
    assert cfg.load_from == str(ckpt)
    assert str(work_dir / 'last_checkpoint') in opened
    assert str(ckpt) in opened  # its zip records were checked


@pytest.mark.parametrize('kind', ['absolute', 'relative', 'dotdot'])
def test_last_checkpoint_outside_the_work_dir_is_refused_unopened(
        dirs, opened, monkeypatch, kind):
    work_dir, outside = dirs
    target = {
        'absolute': str(outside / 'epoch_9.pth'),
        # MMEngine reads relative paths from the current directory
        'relative': '../outside/epoch_9.pth',
        'dotdot': str(work_dir / '..' / 'outside' / 'epoch_9.pth'),
    }[kind]
    monkeypatch.chdir(work_dir)
    (work_dir / 'last_checkpoint').write_text(target)
    assert_refused(config(work_dir), r'last_checkpoint names .*outside',
                   opened, outside)


@pytest.mark.parametrize('url', [
    'http://127.0.0.1:9/epoch_1.pth', 'https://example.com/epoch_1.pth',
    's3://bucket/work/epoch_1.pth', 'pavi://model/epoch_1.pth',
    'open-mmlab://resnet50', 'torchvision://resnet18'
])
def test_last_checkpoint_naming_a_url_is_refused(dirs, opened, url):
    work_dir, outside = dirs
    (work_dir / 'last_checkpoint').write_text(url + '\n')
    assert_refused(config(work_dir), 'a URL; auto-resume only reads',
                   opened, outside)


def test_symlinks_leading_outside_are_refused(dirs, opened):
    work_dir, outside = dirs
    # 1. last_checkpoint names a link in the work dir to the outside file
    os.symlink(outside / 'epoch_9.pth', work_dir / 'epoch_3.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_3.pth'))
    assert_refused(config(work_dir), r'really .*outside.*, which is outside',
                   opened, outside)
    # 2. the link is found by the scan for older checkpoints
    truncate(save_checkpoint(work_dir / 'epoch_4.pth', 4))
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_4.pth'))
    assert_refused(config(work_dir), r'epoch_3\.pth leads to .*outside',
                   opened, outside)
    # 3. last_checkpoint itself is a link (to a file naming the outside
    # checkpoint)
    (work_dir / 'last_checkpoint').unlink()
    (work_dir / 'epoch_3.pth').unlink()
    (outside / 'marker').write_text(str(outside / 'epoch_9.pth'))
    os.symlink(outside / 'marker', work_dir / 'last_checkpoint')
    assert_refused(config(work_dir), 'symbolic link is refused', opened,
                   outside)


def test_non_regular_files_are_refused(dirs, opened):
    work_dir, outside = dirs
    # last_checkpoint names a folder, then a FIFO, of the work dir
    (work_dir / 'epoch_2.pth').mkdir()
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_2.pth'))
    assert_refused(config(work_dir), 'not a regular file', opened, outside)
    os.mkfifo(work_dir / 'fifo')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'fifo'))
    assert_refused(config(work_dir), 'not a regular file', opened, outside)
    # last_checkpoint itself is a FIFO: refused at once, no hang
    (work_dir / 'last_checkpoint').unlink()
    os.mkfifo(work_dir / 'last_checkpoint')
    assert_refused(config(work_dir), 'last_checkpoint is not a regular file',
                   opened, outside)


@pytest.mark.parametrize('content, match', [
    (b'CKPT\nOUTSIDE\n', 'more than one line'),
    (b'CKPT\rOUTSIDE', 'more than one line'),
    (b'CKPT\x00OUTSIDE', 'control characters'),
    (b'CKPT\x1b[2J', 'control characters'),
    (b'\xff\xfeCKPT', 'not UTF-8'),
    (b'x' * (MAX_LAST_CHECKPOINT_BYTES + 1), 'longer than 4096 bytes'),
])
def test_odd_last_checkpoint_contents_are_refused(dirs, opened, content,
                                                  match):
    work_dir, outside = dirs
    ckpt = save_checkpoint(work_dir / 'epoch_1.pth', 1)
    (work_dir / 'last_checkpoint').write_bytes(content % dict(
        ckpt=str(ckpt).encode(), outside=str(outside).encode()))
    assert_refused(config(work_dir), match, opened, outside)


def test_truncated_newest_checkpoint_resumes_from_the_newest_intact(
        tmp_path):
    work_dir = tmp_path / 'work'
    for epoch in (1, 2, 3):
        save_checkpoint(work_dir / f'epoch_{epoch}.pth', epoch)
    truncate(work_dir / 'epoch_3.pth')  # crash while saving epoch 3
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_3.pth'))
    cfg = config(work_dir)
    with pytest.warns(UserWarning) as record:
        resolve_resume(cfg, 'auto')
    message = str(record[0].message)
    assert f'skipped {work_dir / "epoch_3.pth"} (truncated' in message
    assert f'resuming from {work_dir / "epoch_2.pth"}, the newest intact' \
        in message
    assert cfg.resume is True
    assert cfg.load_from == str(work_dir / 'epoch_2.pth')
    meta = torch.load(cfg.load_from, weights_only=True)['meta']
    assert meta['epoch'] == 2


def test_damaged_and_missing_checkpoints_are_skipped(tmp_path):
    work_dir = tmp_path / 'work'
    save_checkpoint(work_dir / 'epoch_8.pth', 8)
    damaged = save_checkpoint(work_dir / 'epoch_9.pth', 9)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside a record
    damaged.write_bytes(bytes(data))
    assert 'fails its CRC check' in checkpoint_problem(str(damaged))
    # last_checkpoint names a checkpoint since deleted
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_10.pth'))
    with pytest.warns(UserWarning, match=r'epoch_10\.pth \(does not exist\)'
                      r'; .*epoch_9\.pth \(record .* fails its CRC check'):
        found = latest_intact_checkpoint(str(work_dir))
    assert found == str(work_dir / 'epoch_8.pth')


def test_no_intact_checkpoint_is_an_error_naming_each(tmp_path):
    work_dir = tmp_path / 'work'
    truncate(save_checkpoint(work_dir / 'epoch_1.pth', 1))
    (work_dir / 'epoch_2.pth').write_bytes(b'')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_2.pth'))
    with pytest.raises(CheckpointPathError,
                       match=r'no intact checkpoint in .*epoch_2\.pth '
                       r'\(empty\); .*epoch_1\.pth \(truncated'):
        resolve_resume(config(work_dir), 'auto')


def test_empty_work_dir_starts_afresh_without_mmengine_auto_resume(
        tmp_path):
    cfg = config(tmp_path)
    resolve_resume(cfg, 'auto')
    # resume off: MMEngine's find_latest_checkpoint is never reached
    assert cfg.resume is False and cfg.load_from is None


def test_config_resume_true_is_resolved_too(tmp_path):
    """``resume = True`` in a config (no --resume) is MMEngine's
    auto-resume as well: resolved by mmghm, an explicit path results."""
    save_checkpoint(tmp_path / 'iter_40.pth', 4)
    save_checkpoint(tmp_path / 'iter_100.pth', 10)
    cfg = config(tmp_path)
    cfg.resume = True
    resolve_resume(cfg, None)
    assert cfg.resume is True
    # no last_checkpoint: the newest by number (100 > 40, not by name)
    assert cfg.load_from == str(tmp_path / 'iter_100.pth')


def test_checkpoint_hook_out_dir_is_inside(tmp_path):
    """The config's CheckpointHook out_dir (trusted) is allowed too."""
    work_dir, out_dir = tmp_path / 'work', tmp_path / 'store'
    work_dir.mkdir()
    ckpt = save_checkpoint(out_dir / 'work' / 'epoch_5.pth', 5)
    (work_dir / 'last_checkpoint').write_text(str(ckpt))
    cfg = config(work_dir, default_hooks=dict(
        checkpoint=dict(type='CheckpointHook', out_dir=str(out_dir))))
    resolve_resume(cfg, 'auto')
    assert cfg.load_from == str(ckpt)
    with pytest.raises(CheckpointPathError, match='outside'):
        resolve_resume(config(work_dir), 'auto')


def test_explicit_resume_is_the_users_choice(tmp_path):
    cfg = config(tmp_path)
    resolve_resume(cfg, 'https://example.com/epoch_3.pth')
    assert cfg.resume is True
    assert cfg.load_from == 'https://example.com/epoch_3.pth'
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        resolve_resume(config(tmp_path), str(tmp_path / 'missing.pth'))


AUDITED_TRAIN = textwrap.dedent('''
    import atexit, runpy, sys
    outside = sys.argv.pop(1)
    opened = []
    def audit(event, args):
        if event == 'open' and isinstance(args[0], str) and \\
                args[0].startswith(outside):
            opened.append(args[0])
    sys.addaudithook(audit)
    atexit.register(lambda: print('OPENED OUTSIDE:', opened))
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name='__main__')
''')


@pytest.mark.subprocess
def test_train_tool_exits_non_zero_without_opening_the_outside_checkpoint(
        dirs):
    work_dir, outside = dirs
    (work_dir / 'last_checkpoint').write_text(str(outside / 'epoch_9.pth'))
    proc = subprocess.run(
        [sys.executable, '-c', AUDITED_TRAIN, str(outside), 'tools/train.py',
         str(CONFIG), '--work-dir', str(work_dir), '--resume'],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode != 0
    assert 'CheckpointPathError' in proc.stderr
    assert f'names {str(outside / "epoch_9.pth")!r}' in proc.stderr
    assert 'OPENED OUTSIDE: []' in proc.stdout, proc.stdout[-2000:]
