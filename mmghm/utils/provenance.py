"""How a measurement was made: the code version and the device, in words.

One implementation for everything that records a measurement (the
end-of-training summary, result-file export, the reproduction harness and
the benchmarks), so their files say the same thing the same way.
"""
import os
import platform
import subprocess
from typing import Optional

import torch

from .package_path import package_dir

__all__ = ['code_commit', 'device_description']

#: Environment variable naming the code version where there is no git
#: checkout (a device machine that receives a copy of the working tree).
COMMIT_ENV = 'MMGHM_COMMIT'


def code_commit(root: Optional[str] = None) -> Optional[str]:
    """The git commit of ``root`` (default: the checkout of the imported
    mmghm), with ``-dirty`` when tracked files differ from it; else
    ``$MMGHM_COMMIT``; else None (a regular install)."""
    if root is None:
        root = package_dir()
    try:
        sha = subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ['git', '-C', root, 'status', '--porcelain',
             '--untracked-files=no'],
            capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = None
    if sha is None or sha.returncode != 0 or not sha.stdout.strip():
        return os.environ.get(COMMIT_ENV) or None
    return sha.stdout.strip() + ('-dirty' if dirty else '')


def device_description(device: Optional[torch.device] = None,
                       processes: int = 1) -> str:
    """The device, in words: the GPU's name, or the CPU's cores and the
    threads torch uses; ``processes`` > 1 is appended."""
    if device is None:
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    device = torch.device(device)
    procs = f', {processes} processes' if processes > 1 else ''
    if device.type == 'cuda':
        count = torch.cuda.device_count()
        name = torch.cuda.get_device_name(device)
        return f'cuda: {name}' + (f' x{count}' if count > 1 else '') + procs
    threads = torch.get_num_threads()
    return (f'cpu: {os.cpu_count()}-core {platform.machine()}, {threads} '
            f'thread{"s" if threads != 1 else ""}{procs}')
