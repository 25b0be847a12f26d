"""Read what MMEngine's Runner leaves in work dirs: one :class:`Run` each.

A work dir trained by ``tools/train.py`` holds::

    <work_dir>/<config name>.py                 the config, dumped
    <work_dir>/last_checkpoint                  path of the last checkpoint
    <work_dir>/<timestamp>/<timestamp>.log      the text log
    <work_dir>/<timestamp>/vis_data/scalars.json
        one JSON object a line; validation lines hold the metrics
        (``accuracy/top1``, ``group_accuracy/...``), ``step`` = the epoch

and ``tools/test.py`` adds ``<work_dir>/<timestamp>/<timestamp>.json`` (one
JSON object of metrics) whose log names the checkpoint it loaded. A resumed
training continues in a new timestamp folder.

One checkpoint is one run of its config: a ``tools/test.py`` work dir that
scored the last checkpoint of a training work dir with the same config is
merged into that training run instead of being counted as a second run
(:func:`merge_by_checkpoint`); a test with another config is that config's
run.
"""
import datetime
import glob
import json
import math
import os
import os.path as osp
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from .files import top1_of

_TIMESTAMP_RE = re.compile(r'^\d{8}_\d{6}$')
_LOAD_RE = re.compile(r'Load checkpoint from (\S+)')
_STAMP_RE = re.compile(r'^(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}) - ')


@dataclass
class Run:
    """The results of one training (and the tests of its checkpoint).

    Attributes:
        work_dir: The training work dir (or the test's, for a test alone).
        config: The config's name (file stem).
        val: One metrics dict per validation, in order (with ``step``).
        test: The latest ``tools/test.py`` metrics, or None.
        checkpoint: Absolute path of the training's last checkpoint.
        test_checkpoint: The checkpoint ``test`` was computed on.
        logs: Text logs of the training sessions, in time order.
        test_logs: Text logs of the tests merged into this run.
        config_file: The config dumped into the work dir.
    """
    work_dir: str
    config: str
    val: List[Dict[str, float]] = field(default_factory=list)
    test: Optional[Dict[str, float]] = None
    checkpoint: Optional[str] = None
    test_checkpoint: Optional[str] = None
    logs: List[str] = field(default_factory=list)
    test_logs: List[str] = field(default_factory=list)
    config_file: Optional[str] = None


def _metrics_only(record: dict) -> Dict[str, float]:
    """The metrics of a log record: numbers under keys with ``/``."""
    return {
        k: float(v)
        for k, v in record.items() if '/' in k
        and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def read_log(path: str) -> List[Dict[str, float]]:
    """Validation metrics from a Runner scalars log (JSON lines), in order.

    Training lines (``loss``, ``lr``, ...) are skipped; a line counts as a
    validation when it holds a metric (a key with ``/``, e.g.
    ``accuracy/top1``). ``step`` (the epoch, or the iteration) is kept.

    Raises:
        ValueError: naming the file and line that is not JSON.
    """
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path} line {lineno} is not JSON: {e}')
            metrics = _metrics_only(record)
            if metrics:
                if 'step' in record:
                    metrics['step'] = float(record['step'])
                records.append(metrics)
    return records


def read_metrics_file(path: str) -> Dict[str, float]:
    """Metrics of a test run: one JSON object (``<ts>/<ts>.json``, or the
    ``--out FILE.json --out-item metrics`` file of tools/test.py)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        # A log with several lines: take its last validation.
        records = read_log(path)
        if not records:
            raise ValueError(f'{path} holds no metrics.')
        return records[-1]
    if not isinstance(record, dict):
        raise ValueError(f'{path} holds a {type(record).__name__}, not a '
                         'JSON object of metrics.')
    metrics = _metrics_only(record)
    if not metrics:
        raise ValueError(f'{path} holds no metrics (keys like '
                         f'accuracy/top1); keys: {sorted(record)}.')
    return metrics


def dumped_config(work_dir: str) -> Optional[str]:
    """The config the Runner dumped into a work dir (newest ``*.py``)."""
    dumped = sorted(glob.glob(osp.join(work_dir, '*.py')), key=osp.getmtime)
    return dumped[-1] if dumped else None


def config_name_of(work_dir: str) -> str:
    """The config a work dir was run with: the dumped config's name, else
    the work dir's own name."""
    dumped = dumped_config(work_dir)
    if dumped:
        return osp.splitext(osp.basename(dumped))[0]
    return osp.basename(osp.normpath(work_dir))


def last_checkpoint(work_dir: str) -> Optional[str]:
    """Real path of the checkpoint ``<work_dir>/last_checkpoint`` names,
    inside the work dir, or None.

    The file is read as the untrusted text it is
    (:func:`~mmghm.utils.checkpoint_files.read_last_checkpoint`). A path
    outside the work dir (a work dir moved since training) stands for the
    file of the same name inside it.

    Raises:
        CheckpointPathError: ``last_checkpoint`` is not one line of a path
            (a FIFO, odd bytes, a URL...).
    """
    from mmghm.utils.checkpoint_files import read_last_checkpoint
    named = read_last_checkpoint(work_dir, roots=[osp.sep])
    if named is None:
        return None
    root = osp.realpath(work_dir)
    path = osp.realpath(osp.join(root, osp.basename(named)))
    return path if osp.dirname(path) == root else None


def read_text_log(log_file: str) -> Dict[str, Any]:
    """What a Runner's text log says about the run.

    Returns:
        dict: ``torch`` (version without local suffix), ``cuda`` (bool),
        ``gpus`` (the ``GPU 0,1: name`` line's name, if any), ``seed``
        (int), ``start`` / ``end`` (the first and last time stamps,
        ``datetime``) and ``checkpoint`` (the last ``Load checkpoint from
        ...``), each only when found.
    """
    info: Dict[str, Any] = {}
    with open(log_file, encoding='utf-8', errors='replace') as f:
        for line in f:
            stamp = _STAMP_RE.match(line)
            if stamp:
                when = datetime.datetime.strptime(stamp.group(1),
                                                  '%Y/%m/%d %H:%M:%S')
                info.setdefault('start', when)
                info['end'] = when
            loaded = _LOAD_RE.search(line)
            if loaded:
                info['checkpoint'] = loaded.group(1)
            text = line.strip()
            if text.startswith('PyTorch:') and 'torch' not in info:
                info['torch'] = text.split(':', 1)[1].strip().split('+')[0]
            elif text.startswith('CUDA available:') and 'cuda' not in info:
                info['cuda'] = text.split(':', 1)[1].strip() == 'True'
            elif re.match(r'^GPU [\d,]+:', text) and 'gpus' not in info:
                info['gpus'] = text.split(':', 1)[1].strip()
            elif re.match(r'^seed: \d+$', text) and 'seed' not in info:
                info['seed'] = int(text.split(':')[1])
    return info


def same_checkpoint(a: Optional[str], b: Optional[str]) -> bool:
    """Whether two checkpoint paths name one file.

    Equal real paths, or a relative path (as a test log may print it) that
    is the tail of the other absolute path.
    """
    if not a or not b:
        return False
    if osp.realpath(a) == osp.realpath(b):
        return True
    for rel, absolute in ((a, b), (b, a)):
        if not osp.isabs(rel) and osp.isabs(absolute):
            tail = osp.normpath(rel).lstrip('./')
            if absolute.endswith(os.sep + tail):
                return True
    return False


def _classify(path: str) -> Tuple[Optional[str], Optional[str]]:
    """(work dir, kind) of a Runner output file; kind 'log' or 'test'."""
    path = osp.abspath(path)
    parent = osp.dirname(path)
    name = osp.basename(path)
    stem = osp.splitext(name)[0]
    if osp.basename(parent) == 'vis_data' and (
            name == 'scalars.json' or _TIMESTAMP_RE.match(stem)):
        return osp.dirname(osp.dirname(parent)), 'log'
    if _TIMESTAMP_RE.match(stem) and osp.basename(parent) == stem:
        return osp.dirname(parent), 'test'
    return None, None


def _walk(path: str) -> Iterable[str]:
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name.endswith('.json'):
                yield osp.join(root, name)


def _text_log(timestamp_dir: str) -> Optional[str]:
    ts = osp.basename(timestamp_dir)
    log = osp.join(timestamp_dir, f'{ts}.log')
    return log if osp.isfile(log) else None


def load_runs(paths: Sequence[str]) -> List[Run]:
    """Find every run under ``paths`` (work dirs, folders of work dirs, or
    Runner JSON files), read its validations and latest test, and merge
    tests into the trainings whose checkpoint they scored.

    A metrics file given by name (``tools/test.py --out m.json --out-item
    metrics``) is a test run of the work dir it lies in.

    Raises:
        FileNotFoundError: if a path does not exist.
    """
    logs: Dict[str, Dict[str, str]] = defaultdict(dict)  # wd -> ts -> file
    tests: Dict[str, Dict[str, str]] = defaultdict(dict)
    direct: List[Run] = []
    for path in paths:
        if not osp.exists(path):
            raise FileNotFoundError(f'no such file or folder: {path}')
        files = list(_walk(path)) if osp.isdir(path) else [path]
        for file in files:
            work_dir, kind = _classify(file)
            if kind == 'log':
                ts = osp.basename(osp.dirname(osp.dirname(file)))
                # scalars.json and the LoggerHook's json hold the same
                # validations: prefer scalars.json.
                if ts not in logs[work_dir] or osp.basename(
                        file) == 'scalars.json':
                    logs[work_dir][ts] = file
            elif kind == 'test':
                ts = osp.basename(osp.dirname(file))
                tests[work_dir][ts] = file
            elif not osp.isdir(path):
                # A metrics file given by name: the test of the work dir it
                # lies in, whose newest test log names the checkpoint.
                work_dir = osp.dirname(osp.abspath(file))
                run = Run(work_dir, config_name_of(work_dir),
                          test=read_metrics_file(file),
                          config_file=dumped_config(work_dir))
                test_logs = sorted(
                    glob.glob(osp.join(work_dir, '*', '*.log')),
                    key=osp.getmtime)
                for log in reversed(test_logs):
                    ckpt = read_text_log(log).get('checkpoint')
                    if ckpt:
                        run.test_logs, run.test_checkpoint = [log], ckpt
                        break
                direct.append(run)
    runs = []
    for work_dir in sorted(set(logs) | set(tests)):
        run = Run(work_dir, config_name_of(work_dir),
                  config_file=dumped_config(work_dir))
        # Timestamps sort in time order; a resumed run continues in a new
        # timestamp folder.
        for ts in sorted(logs.get(work_dir, {})):
            run.val.extend(read_log(logs[work_dir][ts]))
            text = _text_log(osp.join(work_dir, ts))
            if text:
                run.logs.append(text)
        if run.val:
            run.checkpoint = last_checkpoint(work_dir)
        test_files = tests.get(work_dir, {})
        for ts in sorted(test_files, reverse=True):
            try:
                run.test = read_metrics_file(test_files[ts])
            except ValueError:  # e.g. an interrupted test run
                continue
            text = _text_log(osp.join(work_dir, ts))
            if text:
                run.test_logs.append(text)
                run.test_checkpoint = read_text_log(text).get('checkpoint')
            break
        if run.val or run.test:
            runs.append(run)
    return merge_by_checkpoint(runs + direct)


def merge_by_checkpoint(runs: Sequence[Run]) -> List[Run]:
    """One run per checkpoint.

    A run with a test only (a ``tools/test.py`` work dir) whose checkpoint
    is the last training checkpoint of a run of the same config is folded
    into that run (its ``test`` replaces the training run's when the
    training run has none or an older one); two test-only runs of one
    checkpoint and one config become one (the later wins). A test with
    another config (e.g. ``softmax-taunorm_*`` or ``softmax-la_*`` on a
    cross-entropy checkpoint) is another row's run and stays apart.
    Everything else is kept as it is.
    """
    trainings = [r for r in runs if r.val]
    merged: List[Run] = list(trainings)
    tests_only: List[Run] = []
    for run in runs:
        if run.val:
            continue
        owner = next((t for t in trainings if t.config == run.config
                      and same_checkpoint(t.checkpoint, run.test_checkpoint)),
                     None)
        if owner is not None:
            owner_time = max((osp.getmtime(f) for f in owner.test_logs),
                             default=-math.inf)
            run_time = max((osp.getmtime(f) for f in run.test_logs),
                           default=math.inf)
            if owner.test is None or run_time >= owner_time:
                owner.test = run.test
                owner.test_checkpoint = run.test_checkpoint
                owner.test_logs = run.test_logs
            continue
        twin = next((t for t in tests_only if t.config == run.config
                     and same_checkpoint(t.test_checkpoint,
                                         run.test_checkpoint)), None)
        if twin is not None:
            tests_only[tests_only.index(twin)] = run  # later files win
            continue
        tests_only.append(run)
    return merged + tests_only


def select_metrics(run: Run, source: str = 'auto',
                   select: str = 'last') -> Optional[Dict[str, float]]:
    """The metrics that stand for a run.

    Args:
        run: The run.
        source: ``'test'`` (tools/test.py output), ``'val'`` (validation
            during training) or ``'auto'`` (test if there is one, else val).
        select: For validations: ``'last'`` (the final epoch; the honest
            choice where validation is the test set) or ``'best'`` (highest
            top-1 over epochs; optimistic).

    Raises:
        ValueError: for an unknown ``source`` or ``select``.
    """
    if source not in ('auto', 'test', 'val'):
        raise ValueError(
            f"source must be 'auto', 'test' or 'val', got {source!r}.")
    if select not in ('last', 'best'):
        raise ValueError(f"select must be 'last' or 'best', got {select!r}.")
    if source in ('auto', 'test') and run.test is not None:
        return run.test
    if source == 'test' or not run.val:
        return None
    if select == 'last':
        return run.val[-1]
    scored = [m for m in run.val if top1_of(m) is not None]
    return max(scored, key=top1_of) if scored else run.val[-1]
