"""The device checks in one run: the CUDA tests and the three
benchmarks with ``--device cuda``, everything written to one folder.

On a GPU machine without OpenMMLab packages, run ``run_benchmarks.sh`` (it
installs the carried wheels, then calls this). Directly::

    python tools/device/run_benchmarks.py --device cuda --out OUT_DIR

Each step runs in its own process with a time limit, in order of
importance (tests, loss benchmark, end-to-end speed, dense losses, compiled
loss), so a slow or failing step never costs the others; the whole run is
sized for under 5 minutes on one H200. Written to ``--out`` (flat, at most
8 files, as the device tool returns them):

- ``log.txt``: every step's output;
- ``losses_<device>.json``, ``train_speed_<device>.json``,
  ``dense_loss_<device>.json``, ``losses_<device>_compiled.json``: result
  files (schema ``mmghm.benchmark/1``; copy them to ``results/benchmarks/``
  to generate README tables from them);
- ``summary.md``: the tables and each speed target, met or not.

``--device cpu --quick`` runs every step at toy sizes on the CPU: the test
of this script (``tests/test_tools/test_device_benchmarks.py``).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional, Tuple

# Found from this file, not with mmghm.utils.repo_root(): the driver does
# not import mmghm, so a broken install fails its steps (each logged)
# instead of the whole run.
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ANALYSIS = osp.join(ROOT, 'tools', 'analysis')

#: The speed targets: (result file stem, row, column, bound, 'max'/'min').
TARGETS = {
    'cuda': [
        ('losses', 'GHMCWAPLoss', '128x10', 2.0, 'max'),
        ('losses', 'GHMCWAPLoss', '256x1000', 1.5, 'max'),
        ('losses', 'GHMCWAPLoss', '512x8142', 1.5, 'max'),
        ('losses', 'GHMCWAPLoss', '1024x1204', 1.5, 'max'),
        ('losses', 'GHMCWAPLoss', '2x19x512x1024', 2.0, 'max'),
        ('train_speed', 'GHMCWAPLoss', 'ratio to CE', 0.97, 'min'),
    ],
    'cpu': [
        ('losses', 'GHMCWAPLoss', '128x10', 3.0, 'max'),
        ('losses', 'GHMCWAPLoss', '256x1000', 2.0, 'max'),
        ('losses', 'GHMCWAPLoss', '512x8142', 1.3, 'max'),
        ('losses', 'scalars', 'ghm_cwap_update_ms_c8142_n30', 20.0, 'max'),
        ('train_speed', 'GHMCWAPLoss', 'ratio to CE', 0.97, 'min'),
    ],
}


#: Time limit of each step with --quick (toy sizes on the CPU), in s.
QUICK_LIMIT_S = 300


def steps(device: str, out: str, quick: bool) -> List[Tuple[str, list, int]]:
    """(name, command, time limit in s) of each step."""
    py = sys.executable
    tests = [
        py, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-x',
        'tests/test_models/test_losses/test_cuda.py'
    ]
    if quick:
        tests += ['-k', 'step_builder and GHMCWAPLoss']
    losses = [py, osp.join(ANALYSIS, 'benchmark_losses.py'), '--device',
              device, '--out', osp.join(out, f'losses_{device}.json')]
    compiled = [py, osp.join(ANALYSIS, 'benchmark_losses.py'), '--device',
                device, '--compiled', '--losses', 'GHMCWAPLoss',
                'GHMCWAPLoss(compiled)', '--out',
                osp.join(out, f'losses_{device}_compiled.json')]
    train = [py, osp.join(ANALYSIS, 'benchmark_train_speed.py'), '--device',
             device, '--out', osp.join(out, f'train_speed_{device}.json')]
    dense = [py, osp.join(ANALYSIS, 'benchmark_dense_loss.py'), '--device',
             device, '--out', osp.join(out, f'dense_loss_{device}.json')]
    if quick:  # toy sizes: checks the plumbing, measures nothing
        losses += ['--sizes', '32x10', '2x3x4x4', '--repeat', '2',
                   '--losses', 'GHMCWAPLoss', 'DistSeesawLoss']
        compiled = None
        train += ['--batch-size', '4', '--iters', '1', '--rounds', '1',
                  '--losses', 'GHMCWAPLoss']
        dense += ['--seg-size', '1', '3', '8', '8', '--repeat', '2']
    else:
        losses += ['--repeat', '10']
        compiled += ['--repeat', '10', '--sizes', '128x10', '256x1000',
                     '1024x1204', '2x19x512x1024']
    out_steps = [('cuda tests', tests, 150), ('losses', losses, 100),
                 ('train speed', train, 60), ('dense losses', dense, 45)]
    if compiled:
        out_steps.append(('compiled loss', compiled, 120))
    if quick:
        # the limits above are the GPU run's budget; at toy sizes on a CPU
        # that may be shared (the test suite's other worker, a training),
        # a step is stopped only when it hangs
        out_steps = [(name, cmd, QUICK_LIMIT_S) for name, cmd, _ in out_steps]
    return out_steps


def run_step(name: str, cmd: list, limit: int, log) -> Tuple[int, float]:
    log.write(f'\n===== {name}: {" ".join(cmd)} (limit {limit} s)\n')
    log.flush()
    start = time.time()
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (env.get('PYTHONPATH'), ROOT) if p)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT, timeout=limit)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = 124
        log.write(f'\n[{name}: stopped at its limit of {limit} s]\n')
    seconds = time.time() - start
    log.write(f'===== {name}: exit {code} in {seconds:.0f} s\n')
    log.flush()
    return code, seconds


def _load(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _table(result: dict) -> str:
    cols = result['columns']
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    for row in result['rows']:
        lines.append('| ' + ' | '.join(
            'n/a' if row.get(c) is None else str(row.get(c))
            for c in cols) + ' |')
    return '\n'.join(lines)


def summarize(device: str, out: str, outcomes: list) -> str:
    lines = [f'# Device checks ({device})', '']
    lines += ['| step | exit | seconds |', '|---|---|---|']
    lines += [f'| {n} | {c} | {s:.0f} |' for n, c, s in outcomes]
    results = {}
    for stem in ('losses', 'train_speed', 'dense_loss', 'losses_compiled'):
        name = f'{stem}_{device}.json' if stem != 'losses_compiled' else \
            f'losses_{device}_compiled.json'
        result = _load(osp.join(out, name))
        results[stem] = result
        if result is not None:
            lines += ['', f'## {stem} ({result["device"]}, torch '
                      f'{result["torch"]})', '', _table(result)]
            if result.get('scalars'):
                lines += [''] + [f'- {k}: {v}'
                                 for k, v in result['scalars'].items()]
    lines += ['', '## Speed targets', '',
              '| result | row | column | measured | target | met |',
              '|---|---|---|---|---|---|']
    for stem, row_name, col, bound, kind in TARGETS[device]:
        result = results.get(stem)
        value = None
        if result is not None and row_name == 'scalars':
            value = (result.get('scalars') or {}).get(col)
        elif result is not None:
            row = next((r for r in result['rows']
                        if r.get('loss') == row_name), None)
            value = None if row is None else row.get(col)
        sign = '<=' if kind == 'max' else '>='
        met = 'n/a' if value is None else (
            'yes' if (value <= bound if kind == 'max' else value >= bound)
            else 'no')
        lines.append(f'| {stem} | {row_name} | {col} | {value} | '
                     f'{sign} {bound} | {met} |')
    text = '\n'.join(lines) + '\n'
    with open(osp.join(out, 'summary.md'), 'w') as f:
        f.write(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cuda')
    parser.add_argument(
        '--out', default=os.environ.get('OUT', '/tmp/mmghm_device_out'),
        help='folder of the outputs (default: $OUT)')
    parser.add_argument('--quick', action='store_true',
                        help='toy sizes (checks the plumbing only)')
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    out = osp.abspath(args.out)
    outcomes = []
    with open(osp.join(out, 'log.txt'), 'w') as log:
        for name, cmd, limit in steps(args.device, out, args.quick):
            code, seconds = run_step(name, cmd, limit, log)
            outcomes.append((name, code, seconds))
    print(summarize(args.device, out, outcomes))
    return max((c for _, c, _ in outcomes), default=0)


if __name__ == '__main__':
    sys.exit(main())
