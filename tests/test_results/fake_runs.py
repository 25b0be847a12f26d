"""Fake work dirs in the layout MMEngine 0.10's Runner writes."""
import json
from pathlib import Path
from typing import Dict, Optional, Sequence

LOG_HEAD = """{ts_log} - mmengine - INFO -
------------------------------------------------------------
System environment:
    sys.platform: linux
    CUDA available: False
    PyTorch: 2.14.1+cu130
    TorchVision: 0.29.1+cu130

Runtime environment:
    seed: {seed}
    deterministic: False
------------------------------------------------------------
"""


def _ts_log(ts: str, minutes: int = 0) -> str:
    """'20240101_000000' -> '2024/01/01 00:MM:00'."""
    return (f'{ts[0:4]}/{ts[4:6]}/{ts[6:8]} {ts[9:11]}:'
            f'{int(ts[11:13]) + minutes:02d}:{ts[13:15]}')


def train_lines(epochs, top1s, groups=None, iters_per_epoch=3):
    """LoggerHook/LocalVisBackend lines: train iterations, then a val line
    (step = epoch) after each epoch."""
    lines, it = [], 0
    for epoch, top1 in zip(epochs, top1s):
        for _ in range(iters_per_epoch):
            it += 1
            lines.append({'lr': 0.1, 'data_time': 0.01, 'loss': 1.0,
                          'time': 0.2, 'epoch': epoch, 'iter': it,
                          'memory': 10, 'step': it})
        val = {'accuracy/top1': top1, 'group_accuracy/top1': top1,
               'group_accuracy/mean_class': top1 - 1, 'data_time': 0.01,
               'time': 0.1, 'step': epoch}
        for name, value in (groups or {}).items():
            val[f'group_accuracy/{name}'] = value
        lines.append(val)
    return lines


def make_run(root: Path, work_dir: str, config: str, runs: Sequence = (),
             tests: Sequence = (), seed: int = 0,
             config_text: Optional[str] = None) -> Path:
    """A work dir.

    Args:
        runs: [(timestamp, epochs, top1s, groups)] training sessions; the
            last checkpoint is ``epoch_<last epoch>.pth`` (a small file).
        tests: [(timestamp, metrics, checkpoint path)] tools/test.py runs.
        seed: The seed the log reports.
        config_text: The dumped config (default: a comment).
    """
    wd = root / work_dir
    wd.mkdir(parents=True)
    (wd / f'{config}.py').write_text(config_text or '# dumped config\n')
    last = None
    for ts, epochs, top1s, groups in runs:
        vis = wd / ts / 'vis_data'
        vis.mkdir(parents=True)
        text = '\n'.join(
            json.dumps(line)
            for line in train_lines(epochs, top1s, groups)) + '\n'
        (vis / 'scalars.json').write_text(text)
        (vis / f'{ts}.json').write_text(text)
        (wd / ts / f'{ts}.log').write_text(
            LOG_HEAD.format(ts_log=_ts_log(ts), seed=seed) +
            f'{_ts_log(ts, 2)} - mmengine - INFO - Saving checkpoint\n')
        last = wd / f'epoch_{epochs[-1]}.pth'
        last.write_bytes(f'{work_dir} {epochs[-1]}'.encode())
    if last is not None:
        (wd / 'last_checkpoint').write_text(str(last))
    for ts, metrics, ckpt in tests:
        (wd / ts).mkdir(parents=True)
        (wd / ts / f'{ts}.json').write_text(json.dumps(metrics))
        (wd / ts / f'{ts}.log').write_text(
            LOG_HEAD.format(ts_log=_ts_log(ts), seed=seed) +
            f'{_ts_log(ts)} - mmengine - INFO - Load checkpoint from '
            f'{ckpt}\n')
    return wd


def row(text: str, title: str, label: str) -> list:
    """Cells of the row ``label`` in the Markdown table under ``title``."""
    block = text.split(title, 1)[1].split('###', 1)[0]
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[0] == label:
            return cells[1:]
    raise AssertionError(f'no row {label!r} under {title!r}')


def write_result(root: Path, suite: str, config: str, seed: int,
                 metrics: Dict[str, float], variant: Optional[str] = None,
                 **measured) -> Path:
    """A run result file as export writes it."""
    stem = config.rsplit('/', 1)[-1][:-3] + (f'@{variant}' if variant
                                             else '')
    path = root / suite / stem / f'seed{seed}.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    m = dict(tool='tools/train.py', epochs=30, evaluated='last epoch',
             data='digits', device='cpu: 2-core x86_64, 1 thread',
             torch='2.14.1', precision='fp32', commit='abc1234def',
             date='2026-11-28', wall_s=100.0 + seed)
    m.update(measured)
    path.write_text(json.dumps(dict(
        schema='mmghm.run_result/1', config=config, cfg_options=[],
        variant=variant, seed=seed, metrics=metrics, measured=m)))
    return path
