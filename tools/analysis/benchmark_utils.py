"""What the benchmark scripts share: device selection, a timer that works
the same on CPU and CUDA, and the result files README tables are generated
from (``results/benchmarks/<benchmark>_<device>.json``, schema
``mmghm.benchmark/1``)."""
import datetime
import os
import os.path as osp
import time
from typing import Callable, List, Optional

import torch

from mmghm.results.files import write_benchmark
from mmghm.utils.package_path import repo_root
from mmghm.utils.provenance import code_commit, device_description

ROOT = repo_root()
SCHEMA = 'mmghm.benchmark/1'

#: glibc's malloc gives large freed blocks back to the OS, so every large
#: tensor of a call is fresh memory whose page faults cost more than the
#: arithmetic, and more the busier the machine (measured here at 512 x
#: 8142: 4-11 thousand page faults a call, time ratios swinging between
#: 0.6x and 2.2x). With these thresholds raised, freed blocks are reused,
#: as a caching allocator (jemalloc, tcmalloc, CUDA's) does: the timings
#: then measure the losses, not the kernel's page handling.
MALLOC_ENV = {
    'MALLOC_MMAP_THRESHOLD_': str(2**30),
    'MALLOC_TRIM_THRESHOLD_': str(2**32),
}
ALLOCATOR_NOTE = ('glibc malloc with mmap and trim thresholds raised (large '
                  'blocks reused, no page faults per call)')


def reexec_with_reused_memory() -> None:
    """Restart the script with :data:`MALLOC_ENV` unless it is set (glibc
    reads it at start-up). ``MMGHM_BENCH_PLAIN_MALLOC=1`` keeps glibc's
    defaults."""
    if os.environ.get('MMGHM_BENCH_PLAIN_MALLOC') == '1' or all(
            os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return
    import sys
    os.environ.update(MALLOC_ENV)
    os.execv(sys.executable, [sys.executable] + sys.argv)


def allocator_note() -> str:
    if all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return ALLOCATOR_NOTE
    return 'glibc malloc defaults'


def add_device_args(parser, benchmark: str) -> None:
    """``--device``, ``--threads``, ``--out`` and ``--no-save``."""
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu',
                        help='where data, model and loss live')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument(
        '--out', default=None,
        help='result file (default: results/benchmarks/'
        f'{benchmark}_<device>.json in the repository)')
    parser.add_argument('--no-save', action='store_true',
                        help='print the table only')


def setup_device(args) -> torch.device:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available')
    return torch.device(args.device)


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class Timer:
    """Seconds of ``fn()`` on a device: wall clock on the CPU; on CUDA
    events around the calls, so queued GPU work is counted and nothing but
    the final event waits for the device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self, fn: Callable[[], object], calls: int = 1) -> float:
        """Mean seconds per call of ``calls`` consecutive calls."""
        if self.device.type == 'cuda':
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3 / calls
        begin = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - begin) / calls


def save_result(args, benchmark: str, device: torch.device, columns: List[str],
                rows: List[dict], measured: dict,
                device_text: Optional[str] = None, **extra) -> Optional[str]:
    """Write the result file (unless ``--no-save``) and return its path.
    ``device_text`` replaces the measured device's description (for runs
    made in other processes, described by the measurer)."""
    if args.no_save:
        return None
    path = args.out or osp.join(ROOT, 'results', 'benchmarks',
                                f'{benchmark}_{device.type}.json')
    result = dict(
        schema=SCHEMA,
        benchmark=benchmark,
        device=device_text or device_description(device),
        torch=torch.__version__,
        measured=dict(
            measured,
            allocator=allocator_note() if device.type == 'cpu' else
            'PyTorch CUDA caching allocator',
            commit=code_commit(ROOT),
            date=datetime.date.today().isoformat()),
        columns=columns,
        rows=rows,
        **extra)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    return write_benchmark(result, path)


def markdown_table(columns: List[str], rows: List[dict],
                   fmt: Callable[[str, dict], str]) -> str:
    """A Markdown table; ``fmt(column, row)`` formats one cell."""
    lines = ['| ' + ' | '.join(columns) + ' |',
             '|' + '---|' * len(columns)]
    for row in rows:
        lines.append('| ' + ' | '.join(fmt(c, row) for c in columns) + ' |')
    return '\n'.join(lines)
