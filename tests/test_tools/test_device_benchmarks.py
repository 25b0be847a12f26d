"""The prepared GPU run (tools/device/run_benchmarks.sh) on the CPU at toy
sizes: every step runs, every benchmark writes a valid result file
(schema mmghm.benchmark/1) and the summary checks the speed targets."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# separate processes (tests/conftest.py: -m "not subprocess" leaves them out)
pytestmark = pytest.mark.subprocess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('device_out')
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               OUT=str(out), DEVICE='cpu', PYTHON=sys.executable)
    proc = subprocess.run(
        ['bash', str(REPO / 'tools' / 'device' / 'run_benchmarks.sh'),
         '--quick'], cwd=str(REPO), env=env, capture_output=True, text=True,
        timeout=1500)  # 4 steps of at most QUICK_LIMIT_S (300 s)
    return proc, out


def test_every_step_runs(quick_run):
    proc, out = quick_run
    log = (out / 'log.txt').read_text()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in ('cuda tests', 'losses', 'train speed', 'dense losses'):
        assert f'===== {step}: exit 0' in log
    assert '1 passed' in log  # the CPU step builder test ran
    assert 'torch' in (out / 'environment.txt').read_text()


@pytest.mark.parametrize('name, benchmark, first_row', [
    ('losses_cpu.json', 'losses', 'CrossEntropyLoss (ms)'),
    ('train_speed_cpu.json', 'train_speed', 'CrossEntropyLoss'),
    ('dense_loss_cpu.json', 'dense_loss', None),
])
def test_result_files_follow_the_schema(quick_run, name, benchmark,
                                        first_row):
    _, out = quick_run
    result = json.loads((out / name).read_text())
    assert result['schema'] == 'mmghm.benchmark/1'
    assert result['benchmark'] == benchmark
    assert result['device'].startswith('cpu: ')
    assert result['torch'] and result['measured']['tool'].startswith(
        'tools/analysis/benchmark_')
    assert result['measured']['date']
    columns = result['columns']
    assert len(result['rows']) >= 2
    for row in result['rows']:
        assert list(row) == columns  # every cell, in column order
    if first_row is not None:
        assert result['rows'][0][columns[0]] == first_row
    if benchmark == 'losses':
        assert columns == ['loss', '32x10', '2x3x4x4']
        ghm = next(r for r in result['rows'] if r['loss'] == 'GHMCWAPLoss')
        assert all(ghm[c] > 0 for c in columns[1:])
        assert result['scalars']['ghm_cwap_update_ms_c8142_n30'] > 0
    if benchmark == 'train_speed':
        ce, ghm = result['rows']
        assert ce['ratio to CE'] == 1.0
        assert ghm['ratio to CE'] == pytest.approx(
            ghm['images/s'] / ce['images/s'], rel=1e-2)


def test_summary_checks_the_targets(quick_run):
    _, out = quick_run
    summary = (out / 'summary.md').read_text()
    assert '## Speed targets' in summary
    update = json.loads((out / 'losses_cpu.json').read_text())['scalars'][
        'ghm_cwap_update_ms_c8142_n30']
    met = 'yes' if update <= 20 else 'no'
    assert (f'| losses | scalars | ghm_cwap_update_ms_c8142_n30 | {update} '
            f'| <= 20.0 | {met} |') in summary
    # sizes the toy run did not measure are reported as such
    assert '| losses | GHMCWAPLoss | 512x8142 | None | <= 1.3 | n/a |' in \
        summary
