"""The harness's result files, written through :mod:`mmghm.results`.

One run result per run, in the schema (:data:`mmghm.results.RUN_SCHEMA`,
checked by :func:`mmghm.results.validate_run_result`) and at the path
(:func:`mmghm.results.result_path`) of every result file of the project.
"""
import datetime
import os
import os.path as osp
import re

import torch

from mmghm.results import (RUN_SCHEMA, parse_config_name, result_path,
                           validate_run_result)
from mmghm.utils.provenance import device_description
from .config import HarnessOptions, RunSpec
from .run import TrainRun, _to_float

__all__ = [
    'TOOL', 'device_tag', 'default_suite', 'result_record', 'result_file'
]

TOOL = 'tools/analysis/reproduce_cifar_lt.py'


def device_tag(device: torch.device) -> str:
    if device.type == 'cuda':
        name = torch.cuda.get_device_name(device)
        m = re.search(r'\b([A-Z]\d{2,4})\b', name)
        return m.group(1).lower() if m else 'cuda'
    return 'cpu'


def default_suite(spec: RunSpec, options: HarnessOptions,
                  device: torch.device, partial: bool = False) -> str:
    """``<data>_<schedule>_<device>[_val][_subset][_noaug][_bf16][_partial]``
    from the config's name (``{method}_{backbone}_{schedule}_{data}``)."""
    try:
        name = parse_config_name(spec.stem)
    except ValueError:
        data, schedule = spec.stem, 'cfg'
    else:
        data, schedule = name.dataset, name.schedule
        if name.imbalance_factor is not None:
            data += f'-if{name.imbalance_factor}'
    if options.epochs is not None:
        schedule = f'{options.epochs}e'
    suite = f'{data}_{schedule}_{device_tag(device)}'
    if options.val_split:
        suite += '_val'
    if options.max_train is not None or options.max_test is not None:
        suite += '_subset'
    if not options.augment:
        suite += '_noaug'
    if options.bf16:
        suite += '_bf16'
    if partial:
        suite += '_partial'
    return suite


def result_record(run: TrainRun, wall_s: float, parallel: int,
                  commit: str) -> dict:
    """The run result (:data:`mmghm.results.RUN_SCHEMA`) of a trained and
    evaluated run, checked against the schema."""
    metrics = run.history[-1]['metrics'] if run.history else {}
    group = run.group_result()
    per_class = None
    if group is not None:
        per_class = dict(
            accuracy=[_to_float(a) for a in group['per_class']],
            train_counts=list(run.class_counts))
    opts = run.options
    if opts.val_split:
        evaluated = (f'epoch {run.epochs_done} (last) on a validation split: '
                     f'{opts.val_split:.0%} of each class of the training '
                     f'set (seed {opts.val_seed}), not the test set')
    else:
        evaluated = 'last epoch' if not run.stopped_early else \
            f'epoch {run.epochs_done} of {run.max_epochs} (stopped at the ' \
            'time limit)'
    test = run.eval_set
    data = (f'{run.data.description}; {run.num_train} training images, '
            f'{len(test) if run.eval_ids is None else run.eval_ids.numel()} '
            f'evaluated ({test.description})')
    precision = 'bf16 autocast (losses in fp32)' if opts.bf16 else 'fp32'
    if run.device.type == 'cuda' and not opts.bf16:
        precision += (' (cuDNN may use TF32: allow_tf32='
                      f'{torch.backends.cudnn.allow_tf32})')
    record = dict(
        schema=RUN_SCHEMA,
        config=_repo_relative(run.spec.config),
        cfg_options=list(run.spec.cfg_options),
        variant=run.spec.variant,
        seed=run.spec.seed,
        metrics=metrics,
        per_class=per_class,
        measured=dict(
            tool=TOOL,
            epochs=run.epochs_done,
            evaluated=evaluated,
            data=data,
            augmentation=(f'on the device: {run.augment}' if opts.augment
                          else 'off'),
            device=device_description(run.device),
            torch=torch.__version__.split('+')[0],
            precision=precision,
            commit=commit,
            date=datetime.date.today().isoformat(),
            wall_s=round(wall_s, 1),
            runs_in_parallel=parallel,
            train_s_share=round(run.train_time, 1),
            cuda_graphs=run.graph_note,
            channels_last=opts.channels_last,
            cudnn_benchmark=opts.cudnn_benchmark,
            epoch_loss=[_to_float(round(v, 5)) for v in run.mean_losses()],
            curve=[dict(epoch=h['epoch'],
                        top1=h['metrics'].get('accuracy/top1'))
                   for h in run.history]))
    return validate_run_result(record, run.spec.name)


def _repo_relative(path: str) -> str:
    here = osp.abspath(__file__)  # <root>/mmghm/engine/fast_train/x.py
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(here))))
    path = osp.abspath(path)
    return osp.relpath(path, root) if path.startswith(root + os.sep) \
        else path


def result_file(out_dir: str, suite: str, spec: RunSpec) -> str:
    """Where the result of a run goes (:func:`mmghm.results.result_path`:
    ``<out_dir>/<suite>/<stem>[@<variant>]/seed<k>.json``).

    Raises:
        ValueError: the suite or the variant is not a valid name.
    """
    return result_path(out_dir, suite, spec.config, spec.variant, spec.seed)
