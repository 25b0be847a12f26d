"""End-to-end training speed: ResNet-32 with each of mmghm's losses against
the same model with MMPretrain's ``CrossEntropyLoss``, in the same run, on
the CPU or a GPU.

    python tools/analysis/benchmark_train_speed.py [CONFIG] [--device cpu|cuda]
        [--losses GHMCWAPLoss DistSeesawLoss ...]
        [--batch-size 128] [--iters 20] [--rounds 5]
        [--out FILE | --no-save]

Times ``model.train_step`` (MMEngine's path: data preprocessing, forward,
loss, backward, SGD step) of the config's model (default: the ResNet-32 of
the CIFAR-10-LT configs) on a fixed batch of random 32x32 images with
long-tailed labels, already on ``--device``. The models (CE and one per
loss, each with the same linear head, only ``head.loss`` differs) are timed
round by round in alternation, so that machine load affects all alike;
each round is ``--iters`` steps of every model, one step of each in turn on
the CPU (the order rotating from round to round), ``--iters`` steps of a
model between two CUDA events on a GPU. Losses are in a steady state:
class counts set, one GHM-CWAP update done. Prints images/s (median over
rounds) and the ratio to cross-entropy (median over rounds of the ratio in
the round), and writes ``results/benchmarks/train_speed_<device>.json``.
"""
import argparse
import copy
import os.path as osp
import statistics
from typing import Dict, List

import torch
from benchmark_utils import (ROOT, Timer, add_device_args, markdown_table,
                             reexec_with_reused_memory, save_result,
                             setup_device, synchronize)
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmghm  # noqa: F401
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

DEFAULT_CONFIG = osp.join(
    ROOT, 'configs', 'ghm_cwap',
    'ghm-cwap_resnet32_200e_cifar10-lt-if100.py')
#: The project's losses compared with cross-entropy by default.
DEFAULT_LOSSES = ['GHMCWAPLoss', 'DistSeesawLoss', 'LDAMLoss',
                  'BalancedSoftmaxLoss']


def long_tailed_labels(batch_size: int, num_classes: int,
                       gen: torch.Generator) -> torch.Tensor:
    probs = torch.pow(0.01, torch.arange(num_classes) / (num_classes - 1))
    return torch.multinomial(probs, batch_size, replacement=True,
                             generator=gen)


def make_batch(batch_size: int, num_classes: int,
               device: torch.device) -> dict:
    """A uint8 image batch and labels on ``device`` (no host copy in the
    step: the data preprocessor only casts and normalises)."""
    gen = torch.Generator().manual_seed(0)
    labels = long_tailed_labels(batch_size, num_classes, gen)
    images = torch.randint(0, 256, (batch_size, 3, 32, 32), generator=gen,
                           dtype=torch.uint8).to(device)
    samples = [DataSample().set_gt_label(int(y)).to(device) for y in labels]
    return dict(inputs=images, data_samples=samples)


def class_counts(num_classes: int) -> List[int]:
    """CIFAR-10-LT-like counts (IF 100, 5000 down to 50)."""
    return [round(5000 * 0.01**(c / (num_classes - 1)))
            for c in range(num_classes)]


def build(cfg: Config, loss_cfg: dict, device: torch.device):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.head.loss = loss_cfg
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model = model.to(device).train()
    loss = model.head.loss_module
    if hasattr(loss, 'set_class_counts'):
        loss.set_class_counts(class_counts(model_cfg.head.num_classes))
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(0)
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    return model, optim


def loss_config(name: str, num_classes: int) -> dict:
    if name == 'CrossEntropyLoss':
        return dict(type='CrossEntropyLoss', loss_weight=1.0)
    return dict(type=f'mmghm.{name}', num_classes=num_classes)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=None,
                        help='config whose model and optimizer are used '
                        '(default: the ResNet-32 CIFAR-10-LT config)')
    parser.add_argument('--config', dest='config_opt', default=None,
                        help='the same as the positional argument')
    parser.add_argument('--losses', nargs='+', default=DEFAULT_LOSSES,
                        help='mmghm losses to compare with cross-entropy')
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--iters', type=int, default=None,
                        help='steps per round (default: 3 on CPU, 20 on '
                        'CUDA)')
    parser.add_argument('--rounds', type=int, default=None,
                        help='rounds (default: 7)')
    add_device_args(parser, 'train_speed')
    args = parser.parse_args(argv)
    args.config = args.config or args.config_opt or DEFAULT_CONFIG
    device = setup_device(args)
    iters = args.iters or (20 if device.type == 'cuda' else 3)
    rounds = args.rounds or 7
    cfg = Config.fromfile(args.config)
    DefaultScope.get_instance('benchmark_train_speed',
                              scope_name='mmpretrain')
    num_classes = cfg.model.head.num_classes
    batch = make_batch(args.batch_size, num_classes, device)
    names = ['CrossEntropyLoss'] + list(args.losses)
    models: Dict[str, tuple] = {
        name: build(cfg, loss_config(name, num_classes), device)
        for name in names
    }
    timer = Timer(device)

    def steps(model, optim):
        def run():
            model.train_step(batch, optim)
        return run

    for name, (model, optim) in models.items():  # warm-up
        for _ in range(2):
            model.train_step(batch, optim)
        loss = model.head.loss_module
        if hasattr(loss, 'update'):
            loss.update()  # steady state (2nd epoch on)
    synchronize(device)
    # Step by step in turn (the order rotating each round), so that a change
    # of machine load hits every model alike; on CUDA ``iters`` steps of a
    # model at a time, between two events.
    seconds: Dict[str, List[float]] = {name: [] for name in names}
    per_turn = iters if device.type == 'cuda' else 1
    turns = 1 if device.type == 'cuda' else iters
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        spent = dict.fromkeys(names, 0.0)
        for _ in range(turns):
            for name in order:
                spent[name] += timer(steps(*models[name]), per_turn) * \
                    per_turn
        for name in names:
            seconds[name].append(spent[name] / iters)
    ips = {
        name: args.batch_size / statistics.median(t)
        for name, t in seconds.items()
    }
    # The ratio of each round (same load for both), median over rounds.
    ratio = {
        name: statistics.median(
            c / t for c, t in zip(seconds['CrossEntropyLoss'], seconds[name]))
        for name in names
    }
    columns = ['loss', 'images/s', 'ratio to CE']
    rows = [
        dict(loss=name, **{
            'images/s': round(ips[name], 1),
            'ratio to CE': round(ratio[name], 3)
        }) for name in names
    ]
    print(f'torch {torch.__version__}, {device}, '
          f'{torch.get_num_threads()} CPU threads, batch {args.batch_size}, '
          f'{rounds} rounds of {iters} steps, models in alternation '
          '(median over rounds)\n')

    def fmt(col, row):
        value = row[col]
        return value if col == 'loss' else (
            f'{value:.1f}' if col == 'images/s' else f'{value:.3f}')

    print(markdown_table(columns, rows, fmt))
    model_name = f'{cfg.model.backbone.type}(depth={cfg.model.backbone.depth})'
    path = save_result(
        args, 'train_speed', device, columns, rows,
        measured=dict(
            tool='tools/analysis/benchmark_train_speed.py',
            config=osp.relpath(osp.abspath(args.config), ROOT),
            model=model_name,
            step='model.train_step (preprocess, forward, loss, backward, '
            'SGD) on a fixed batch already on the device',
            batch_size=args.batch_size, iters=iters, rounds=rounds,
            method='models in alternation (CPU: step by step, order '
            'rotating by round; CUDA: iters steps at a time between CUDA '
            'events); images/s of the median round; ratio: median over '
            'rounds of the ratio within the round',
            threads=torch.get_num_threads()))
    if path:
        print(f'\nwrote {path}')
    return dict(columns=columns, rows=rows)


if __name__ == '__main__':
    reexec_with_reused_memory()
    main()
