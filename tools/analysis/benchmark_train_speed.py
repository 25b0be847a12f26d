"""End-to-end training speed of a config's model with its own loss against
the same model with MMPretrain's CrossEntropyLoss, in the same run.

    python tools/analysis/benchmark_train_speed.py \
        configs/ghm_cwap/ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py \
        [--iters 30] [--batch-size 128] [--rounds 3]

Times ``model.train_step`` (data preprocessing, forward, loss, backward,
SGD step) on fixed random 32x32 images with long-tailed labels, alternating
the two models round by round so that machine load affects both alike.
Prints images/s of each and the ratio (loss / cross-entropy).
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

import mmghm  # noqa: F401
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


def build(cfg: Config, loss_cfg=None):
    model_cfg = copy.deepcopy(cfg.model)
    if loss_cfg is not None:
        model_cfg.head.loss = loss_cfg
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    return model.train(), optim


def make_batch(batch_size: int, num_classes: int, size: int = 32) -> dict:
    gen = torch.Generator().manual_seed(0)
    probs = torch.pow(0.01, torch.arange(num_classes) / (num_classes - 1))
    labels = torch.multinomial(probs, batch_size, replacement=True,
                               generator=gen)
    images = torch.randint(0, 256, (batch_size, 3, size, size),
                           generator=gen, dtype=torch.uint8)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return dict(inputs=list(images), data_samples=samples)


def images_per_second(model, optim, batch, iters: int) -> float:
    start = time.perf_counter()
    for _ in range(iters):
        model.train_step(batch, optim)
    return iters * len(batch['inputs']) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--iters', type=int, default=30)
    parser.add_argument('--batch-size', type=int, default=128)
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    DefaultScope.get_instance('benchmark', scope_name='mmpretrain')
    num_classes = cfg.model.head.num_classes
    batch = make_batch(args.batch_size, num_classes)
    ours, ours_opt = build(cfg)
    ce, ce_opt = build(cfg, dict(type='CrossEntropyLoss'))
    loss_name = type(ours.head.loss_module).__name__
    for model, optim in ((ours, ours_opt), (ce, ce_opt)):  # warm-up
        images_per_second(model, optim, batch, 3)
        if hasattr(model.head.loss_module, 'update'):
            model.head.loss_module.update()  # steady state (2nd epoch on)
    ours_ips, ce_ips = [], []
    for _ in range(args.rounds):
        ours_ips.append(images_per_second(ours, ours_opt, batch, args.iters))
        ce_ips.append(images_per_second(ce, ce_opt, batch, args.iters))
    ours_med, ce_med = statistics.median(ours_ips), statistics.median(ce_ips)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'batch {args.batch_size}, {args.iters} iterations x '
          f'{args.rounds} rounds (median)')
    print(f'CrossEntropyLoss: {ce_med:.1f} images/s')
    print(f'{loss_name}: {ours_med:.1f} images/s')
    print(f'ratio {loss_name} / CrossEntropyLoss: {ours_med / ce_med:.3f}')


if __name__ == '__main__':
    main()
