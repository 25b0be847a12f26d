"""Time README's main job exactly as README gives it, at the thread count
``tools/train.py`` chooses (one, for this small CPU run) and at two, and
write ``results/benchmarks/demo_threads_<device>.json`` (README's "How
long" block is generated from it).

    python tools/analysis/benchmark_demo_threads.py --device-tag cpu-idle \
        --device-note "2-core x86_64, nothing else running" [--epochs 30]

Each run is ``python tools/train.py configs/ghm_cwap/ghm-cwap_resnet20_demo_
digits-lt.py --work-dir TMP`` in a fresh process; the 1-thread run leaves
``OMP_NUM_THREADS`` unset (the tool's own choice), the 2-thread run sets
it to 2. Training time is what ``RunSummaryHook`` logs, the command time
is the whole process (start-up and the end-of-run pictures included), and
the load is the 1-minute load average when the run ended. Whether the
machine was idle is the measurer's statement (``--device-note``); the
load column lets a reader check it.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import torch
from benchmark_utils import ROOT, save_result

CONFIG = 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'
GROUPS = (('top1', 'group_accuracy/top1'), ('many', 'group_accuracy/many'),
          ('medium', 'group_accuracy/medium'), ('few', 'group_accuracy/few'))
COLUMNS = [
    dict(key='run', label='Run'),
    dict(key='source', label='Measured'),
    dict(key='training_s', label='Training (s)', format='{:.1f}'),
    dict(key='wall_s', label='Command (s)', format='{:.1f}'),
    dict(key='load', label='Load at end', format='{:.2f}'),
    dict(key='loss', label='Loss', format='{:.4f}'),
    dict(key='top1', label='Top-1', format='{:.2f}'),
    dict(key='many', label='Many', format='{:.2f}'),
    dict(key='medium', label='Medium', format='{:.2f}'),
    dict(key='few', label='Few', format='{:.2f}'),
]


def run_once(threads, epochs: int, work_dir: str) -> dict:
    env = dict(os.environ)
    env.pop('OMP_NUM_THREADS', None)
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir]
    if epochs != 30:
        cmd += ['--cfg-options', f'train_cfg.max_epochs={epochs}']
    begin = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - begin
    load = os.getloadavg()[0]
    (summary_file, ) = glob.glob(osp.join(work_dir, '*', 'summary.json'))
    with open(summary_file, encoding='utf-8') as f:
        summary = json.load(f)
    (scalars_file, ) = glob.glob(
        osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(scalars_file, encoding='utf-8') as f:
        losses = [r['loss'] for r in map(json.loads, f) if 'loss' in r]
    row = dict(training_s=summary['wall_s'], wall_s=round(wall, 1),
               load=round(load, 2), loss=round(losses[-1], 4),
               threads_logged=summary['device'])
    for key, metric in GROUPS:
        row[key] = round(summary['metrics'][metric], 2)
    return row


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device-tag', required=True,
                        help="file name part, e.g. 'cpu-idle'")
    parser.add_argument('--device-note', required=True,
                        help='the machine and what else ran on it')
    parser.add_argument('--epochs', type=int, default=30)
    parser.add_argument('--out', default=None)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix='mmghm-demo-threads-') as tmp:
        for threads, name in ((None, '1 thread (the tool\'s choice)'),
                              (2, '2 threads (OMP_NUM_THREADS=2)')):
            row = run_once(threads, args.epochs,
                           osp.join(tmp, str(threads or 1)))
            row['run'] = f'{args.epochs} epochs (the main job), {name}'
            row['source'] = 'here'
            rows.append(row)
            print(json.dumps(row))
    args.no_save = False
    args.out = args.out or osp.join(
        ROOT, 'results', 'benchmarks', f'demo_threads_{args.device_tag}.json')
    measured = dict(
        config=f'{CONFIG} exactly as README gives it, seed 0, '
        f'{args.epochs} epochs',
        threads="1: OMP_NUM_THREADS unset, tools/train.py's choice; 2: "
        'OMP_NUM_THREADS=2',
        training_s="RunSummaryHook's 'training took'; wall_s: the whole "
        'command (start-up and the end-of-run pictures included)',
        load='the 1-minute load average when the run ended (2 means both '
        'cores busy)',
        loss='training loss logged last',
        machine=args.device_note)
    path = save_result(args, 'demo_threads', torch.device('cpu'), COLUMNS,
                       rows, measured,
                       device_text=f'{args.device_tag}: {args.device_note}')
    print('wrote', path)


if __name__ == '__main__':
    main()
