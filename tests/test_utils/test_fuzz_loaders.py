"""The seeded fuzz run of ``fuzz_loaders.py`` over the checkpoint and
predictions loaders, in a subprocess (so that a crash or a hang is seen).

About 40 s in CI; MMGHM_FUZZ_SECONDS and MMGHM_FUZZ_SEED run it longer or
with other draws, e.g. for an hour:

    MMGHM_FUZZ_SECONDS=3600 python -m pytest \
        tests/test_utils/test_fuzz_loaders.py
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.utils import digit_version

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.skipif(
    digit_version(torch.__version__) < digit_version('2.6.0'),
    reason='the checked allow-list needs torch >= 2.6')


@pytest.mark.subprocess
def test_fuzzed_files_load_as_data_or_are_refused_never_crash(tmp_path):
    pytest.importorskip('hypothesis')
    seconds = float(os.environ.get('MMGHM_FUZZ_SECONDS', 40))
    progress = tmp_path / 'progress.txt'
    proc = subprocess.run(
        [sys.executable, str(HERE / 'fuzz_loaders.py'), '--seconds',
         str(seconds), '--seed', os.environ.get('MMGHM_FUZZ_SEED', '0'),
         '--progress', str(progress)],
        capture_output=True, text=True, timeout=seconds + 300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    last = progress.read_text() if progress.exists() else '(none)'
    assert proc.returncode == 0, (
        f'exit {proc.returncode}; last input: {last}\n'
        f'{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}')
    assert 'refused' in proc.stdout
