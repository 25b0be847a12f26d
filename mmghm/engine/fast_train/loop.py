"""Many harness runs at once, the graph check and the Runner comparison.

:func:`train_runs` interleaves the steps of several :class:`TrainRun` s (on
CUDA each on its own stream, so the small kernels of several ResNet-32s
overlap); :func:`check_graphs` compares captured with eager steps;
:class:`RunnerLoop` and :func:`compare_with_runner` time the Runner's own
training path against the harness's.
"""
import copy
import time
from typing import Callable, Dict, List

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmghm.engine.hooks.class_counts_hook import apply_class_counts
from mmghm.engine.hooks.loss_epoch_hook import set_loss_epoch
from .config import HarnessOptions, RunSpec, load_run_config
from .data import ImageSet
from .run import TrainRun

__all__ = ['train_runs', 'check_graphs', 'RunnerLoop', 'compare_with_runner']


def train_runs(runs: List[TrainRun],
               log: Callable[[str], None] = print,
               log_every: int = 10) -> float:
    """Train every run to its last epoch, interleaving their steps.

    On CUDA each run enqueues on its own stream, so their kernels overlap;
    on the CPU the runs simply take turns. Evaluates every
    ``eval_interval`` epochs and after the last one; with ``time_limit``,
    stops after the epoch whose end would pass it (the runs are then marked
    ``stopped_early`` and evaluated where they stopped).

    Returns:
        float: Wall-clock seconds.
    """
    if not runs:
        return 0.0
    options = runs[0].options
    cuda = runs[0].device.type == 'cuda'
    if cuda:
        torch.cuda.synchronize()
        for r in runs:
            r.stream.wait_stream(torch.cuda.current_stream(r.device))
    start = time.perf_counter()
    epoch_times: List[float] = []
    while not all(r.done for r in runs):
        t0 = time.perf_counter()
        active = [r for r in runs if not r.done]
        spent = {id(r): 0.0 for r in active}

        def work(r: TrainRun, fn: Callable[[], None]) -> None:
            t = time.perf_counter()
            with _on(r):
                fn()
            spent[id(r)] += time.perf_counter() - t

        for r in active:
            work(r, lambda r=r: r.begin_epoch(r.epochs_done))
        for k in range(max(r.iters_per_epoch for r in active)):
            for r in active:
                if k < r.iters_per_epoch:
                    work(r, lambda r=r, k=k: r.train_iter(k))
        for r in active:
            work(r, r.end_epoch)
        if cuda:
            torch.cuda.synchronize()
        epoch_times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        for r in active:
            # On the CPU each run's own time; on CUDA the streams overlap,
            # so each run is charged an equal share of the epoch.
            r.train_time += epoch_times[-1] / len(active) if cuda else \
                spent[id(r)]
        last = max(r.epochs_done for r in active)
        out_of_time = (options.time_limit is not None and
                       elapsed + max(epoch_times[-3:]) > options.time_limit
                       and not all(r.done for r in runs))
        if out_of_time:
            for r in runs:
                if not r.done:
                    r.stopped_early = True
                    r.done = True
        for r in active:
            due = options.eval_interval and \
                r.epochs_done % options.eval_interval == 0
            if r.done or due:
                with _on(r):
                    metrics = r.evaluate()
                if r.done or r.epochs_done % log_every == 0:
                    top1 = metrics.get('accuracy/top1')
                    log(f'  {r.spec.name}: epoch {r.epochs_done}, top-1 '
                        f'{top1}')
        if last % log_every == 0 or last == 1 or all(r.done for r in runs):
            images = sum(r.images_seen for r in runs)
            log(f'epoch {last}: {elapsed:.1f} s, {images / elapsed:.0f} '
                f'images/s over {len(active)} runs, {epoch_times[-1]:.2f} s '
                'this epoch')
        if out_of_time:
            log(f'stopped after epoch {last}: the next one would pass '
                f'--time-limit {options.time_limit} s.')
    return time.perf_counter() - start


class _on:
    """Run a block on a run's CUDA stream (no-op on the CPU)."""

    def __init__(self, run: TrainRun) -> None:
        self.ctx = torch.cuda.stream(run.stream) if run.stream is not None \
            else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            return self.ctx.__exit__(*exc)
        return False


def check_graphs(spec: RunSpec, data: Dict[str, ImageSet],
                 options: HarnessOptions, epochs: int = 3,
                 max_train: int = 1024) -> dict:
    """Train one run twice for a few short epochs, every step eager and
    with captured steps, and compare the weights (CUDA only).

    A captured step bakes in whatever the host decided when it was
    captured; this catches a stale graph (a learning rate, a loss state or
    a buffer that changed without a recapture) before a long run.

    Returns:
        dict: ``max_rel_diff`` (largest weight difference over the largest
        weight), ``replays`` (captured steps run), ``graph_note``.
    """
    import dataclasses
    short = dataclasses.replace(options, epochs=epochs, max_train=max_train,
                                max_test=min(options.max_test or 1000, 1000),
                                time_limit=None, eval_interval=0)
    # Let LDAM-DRW's re-weighting start within the check, so that the
    # switch (a recapture) is checked too.
    cfg = load_run_config(spec)
    if cfg.model.head.get('loss', {}).get('drw_start_epoch') is not None:
        spec = dataclasses.replace(spec, cfg_options=list(spec.cfg_options) +
                                   ['model.head.loss.drw_start_epoch=1'])
    eager = TrainRun(spec, data, dataclasses.replace(short,
                                                     cuda_graphs=False))
    train_runs([eager], log=lambda s: None)
    graphed = TrainRun(spec, data, short)
    train_runs([graphed], log=lambda s: None)
    a = torch.cat([p.detach().float().flatten()
                   for p in eager.model.parameters()])
    b = torch.cat([p.detach().float().flatten()
                   for p in graphed.model.parameters()])
    rel = float((a - b).abs().max() / a.abs().max().clamp(min=1e-12))
    return dict(max_rel_diff=rel, replays=graphed.replays,
                steps=graphed.iter, graph_note=graphed.graph_note,
                loss_eager=eager.mean_losses(),
                loss_graphs=graphed.mean_losses())


class RunnerLoop:
    """The Runner's training path for one config, for speed comparisons:
    the config's DataLoader (pipeline, workers, ``default_collate`` as
    tools/train.py sets it) feeding ``model.train_step``."""

    def __init__(self, cfg: Config, device: str = 'cpu') -> None:
        from mmengine.optim import build_optim_wrapper
        from mmengine.runner import Runner, set_random_seed
        from mmpretrain.registry import MODELS

        from mmghm.utils.class_counts import dataset_class_counts
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmpretrain')):
            set_random_seed(0)
            model_cfg = copy.deepcopy(cfg.model)
            model_cfg.setdefault('data_preprocessor',
                                 copy.deepcopy(cfg.data_preprocessor))
            self.model = MODELS.build(model_cfg).to(device).train()
            optim_cfg = copy.deepcopy(cfg.optim_wrapper)
            optim_cfg.setdefault('type', 'OptimWrapper')
            self.optim = build_optim_wrapper(self.model, optim_cfg)
            loader_cfg = copy.deepcopy(cfg.train_dataloader)
            loader_cfg.setdefault('collate_fn', dict(type='default_collate'))
            self.loader = Runner.build_dataloader(loader_cfg, seed=0)
            counts = dataset_class_counts(self.loader.dataset)
        apply_class_counts(self.model, counts)
        set_loss_epoch(self.model, 0)
        self.it = iter(self.loader)

    def steps(self, n: int) -> int:
        """Run ``n`` iterations; return the images seen."""
        seen = 0
        for _ in range(n):
            try:
                batch = next(self.it)
            except StopIteration:
                self.it = iter(self.loader)
                batch = next(self.it)
            self.model.train_step(batch, self.optim)
            seen += len(batch['inputs'])
        return seen


def compare_with_runner(run: TrainRun, iters: int, rounds: int = 3) -> dict:
    """Images/s of the harness's steps and of the Runner's path on the same
    config, ``iters`` iterations each, alternating for ``rounds`` rounds
    (so that machine load hits both alike); medians."""
    import statistics
    loop = RunnerLoop(run.cfg, run.options.device)
    loop.steps(1)  # start the workers
    run.begin_epoch(0)
    k = 0
    ours, theirs = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        seen = 0
        for _ in range(iters):
            if k == run.iters_per_epoch:
                run.end_epoch()
                run.begin_epoch(run.epochs_done)
                k = 0
            run.train_iter(k)
            seen += int(run.batch(k).shape[0])
            k += 1
        if run.device.type == 'cuda':
            torch.cuda.synchronize()
        ours.append(seen / (time.perf_counter() - t))
        t = time.perf_counter()
        seen = loop.steps(iters)
        if run.device.type == 'cuda':
            torch.cuda.synchronize()
        theirs.append(seen / (time.perf_counter() - t))
    return dict(harness=statistics.median(ours),
                runner=statistics.median(theirs),
                ratio=statistics.median(ours) / statistics.median(theirs),
                rounds=rounds, iters=iters)
