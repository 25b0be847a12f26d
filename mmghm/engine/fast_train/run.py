"""One harness run: built as tools/train.py builds it, stepped by the harness.

:class:`TrainRun` builds a (config, seed) through the registries in the
Runner's order and trains it one epoch (:meth:`TrainRun.begin_epoch`,
:meth:`TrainRun.train_iter`, :meth:`TrainRun.end_epoch`) at a time. The hooks'
work is done by the functions the hooks themselves call
(:func:`~mmghm.engine.hooks.class_counts_hook.apply_class_counts`,
:func:`~mmghm.engine.hooks.loss_epoch_hook.set_loss_epoch`,
:func:`~mmghm.engine.hooks.aura_hook.aura_due`). On CUDA each training step
is captured once into a CUDA graph per (batch size, learning rate, loss
state) and replayed; the loss state is what the head's modules report
through ``graph_state()``
(:meth:`mmghm.models.losses.BaseClsLoss.graph_state`).
"""
import collections
import copy
import math
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from mmghm.engine.hooks.aura_hook import aura_due, find_ghm_cwap_losses
from mmghm.engine.hooks.class_counts_hook import apply_class_counts
from mmghm.engine.hooks.exact_resume_hook import ExactResumeHook
from mmghm.engine.hooks.loss_epoch_hook import set_loss_epoch
from mmghm.models.losses.base import module_graph_state
from .config import HarnessOptions, RunSpec, hook_plan, load_run_config
from .data import (ImageSet, _dataset_cfg, _pipeline, _stratified_subset,
                   _type_name, augment_batch, split_pipeline,
                   stratified_split)

__all__ = ['TrainRun']


def _graph_state(module: torch.nn.Module) -> tuple:
    """What a captured step would bake in of a module: what it reports
    (``graph_state()``, e.g. mmghm's losses), else its plain attributes and
    buffer addresses (:func:`~mmghm.models.losses.base.module_graph_state`).
    """
    report = getattr(module, 'graph_state', None)
    return report() if callable(report) else module_graph_state(module)


class _Graph:
    """One captured training step and its static input."""

    def __init__(self, graph, static: torch.Tensor) -> None:
        self.graph = graph
        self.static = static
        self.last_epoch = -1


class TrainRun:
    """One run built as tools/train.py builds it, trained by the harness.

    Args:
        spec: Config, seed and overrides.
        data: ``'train'`` (and ``'test'``) :class:`ImageSet` on the device,
            decoded from this config's data (shared between runs).
        options: :class:`HarnessOptions`.
    """

    def __init__(self, spec: RunSpec, data: Dict[str, ImageSet],
                 options: HarnessOptions) -> None:
        from mmengine.optim import build_optim_wrapper
        from mmengine.registry import DATA_SAMPLERS, PARAM_SCHEDULERS
        from mmengine.runner import set_random_seed
        from mmpretrain.registry import MODELS

        self.spec, self.options = spec, options
        self.data_sets = data
        self.cfg = cfg = load_run_config(spec, options.epochs)
        self.device = torch.device(options.device)
        self.hooks = hook_plan(cfg)
        self.max_epochs = int(cfg.train_cfg.max_epochs)
        if not cfg.train_cfg.get('by_epoch', True):
            raise ValueError('the harness trains epoch-based configs only.')
        loader = cfg.train_dataloader
        self.batch_size = int(loader.batch_size)
        self.drop_last = bool(loader.get('drop_last', False))
        _, self.augment = split_pipeline(
            _pipeline(_dataset_cfg(cfg, 'train_dataloader')))
        scope = cfg.get('default_scope', 'mmpretrain')
        self._scope = scope

        # Which images train and evaluate (subsets for smoke tests, a
        # validation split carved from the training set for sweeps).
        train, test = data['train'], data.get('test')
        train_labels = train.labels.cpu().numpy()
        train_ids = np.arange(len(train_labels))
        if options.max_train is not None:
            train_ids = _stratified_subset(train_labels, options.max_train,
                                           seed=0)
        self.eval_set, eval_ids = test, None
        if options.val_split:
            kept, held = stratified_split(train_labels[train_ids],
                                          options.val_split,
                                          options.val_seed)
            eval_ids, train_ids = train_ids[held], train_ids[kept]
            self.eval_set = train
        elif test is None:
            raise ValueError('no test set was decoded and no validation '
                             'split was asked for: nothing to evaluate on.')
        if options.max_test is not None and self.eval_set is test:
            eval_ids = _stratified_subset(test.labels.cpu().numpy(),
                                          options.max_test, seed=0)
        self.data = train
        self.train_ids = torch.as_tensor(train_ids, device=self.device)
        self.eval_ids = None if eval_ids is None else torch.as_tensor(
            eval_ids, device=self.device)
        num_classes = int(cfg.model.head.num_classes)
        self.class_counts = np.bincount(
            train_labels[train_ids], minlength=num_classes).tolist()
        p = self.augment.padding if options.augment else 0
        self.pad = p
        # (N, H + 2p, W + 2p, C), zero padded once (RandomCrop's pad_val 0).
        self.padded = F.pad(train.images, (0, 0, p, p, p, p)) if p else \
            train.images
        h, w = train.images.shape[1:3]
        self.crop = self.augment.crop or (h, w)
        if self.crop[0] > h + 2 * p or self.crop[1] > w + 2 * p:
            raise ValueError(f'RandomCrop size {self.crop} exceeds the padded '
                             f'image {(h + 2 * p, w + 2 * p)}.')
        self.num_train = int(self.train_ids.numel())
        n_batches = self.num_train / self.batch_size
        self.iters_per_epoch = int(n_batches) if self.drop_last else \
            math.ceil(n_batches)

        with DefaultScope.overwrite_default_scope(scope):
            # Runner.__init__: randomness, then the model with the config's
            # data preprocessor, moved to the device.
            set_random_seed(**dict(cfg.randomness))
            model_cfg = copy.deepcopy(cfg.model)
            if cfg.get('data_preprocessor') is not None:
                model_cfg.setdefault('data_preprocessor',
                                     copy.deepcopy(cfg.data_preprocessor))
            self.model = MODELS.build(model_cfg).to(self.device)
            _check_model(self.model)
            # Runner.build_dataloader: the sampler, seeded with the seed.
            sampler_cfg = copy.deepcopy(loader.get(
                'sampler', dict(type='DefaultSampler', shuffle=True)))
            self.sampler = DATA_SAMPLERS.build(
                sampler_cfg, default_args=dict(dataset=range(self.num_train),
                                               seed=int(spec.seed)))
            # Runner.train: optimizer wrapper, schedulers, init_weights.
            optim_cfg = copy.deepcopy(cfg.optim_wrapper)
            optim_cfg.setdefault('type', 'OptimWrapper')
            if _type_name(optim_cfg) != 'OptimWrapper':
                raise ValueError(
                    f'optim_wrapper type {optim_cfg["type"]!r}: the harness '
                    'runs OptimWrapper (use --bf16 for mixed precision).')
            if options.channels_last:
                self.model.to(memory_format=torch.channels_last)
            self.optim_wrapper = build_optim_wrapper(self.model, optim_cfg)
            scheds = cfg.get('param_scheduler') or []
            scheds = scheds if isinstance(scheds, (list, tuple)) else [scheds]
            self.schedulers = []
            for sched in scheds:
                sched = copy.deepcopy(sched)
                sched.setdefault('end', self.max_epochs if sched.get(
                    'by_epoch', True) else self.max_epochs *
                    self.iters_per_epoch)
                self.schedulers.append(PARAM_SCHEDULERS.build(
                    sched, default_args=dict(
                        optimizer=self.optim_wrapper,
                        epoch_length=self.iters_per_epoch)))
            _quiet_init_weights(self.model)
            self.evaluator = self._build_evaluator()
        self.model.train()
        self.loss_modules = [m for m in self.model.head.modules()]
        # ClassCountsHook.before_train.
        if self.hooks.class_counts:
            apply_class_counts(self.model, list(self.class_counts),
                               self.evaluator.metrics)
        self.ghm_losses = self._ghm_losses()
        self.epoch, self.iter, self.epochs_done = 0, 0, 0
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(1000003 * int(spec.seed) + 17)
        self.loss_sum = torch.zeros((), device=self.device)
        self.epoch_losses: List[torch.Tensor] = []
        self.history: List[dict] = []
        self.graphs: Dict[tuple, _Graph] = {}
        self.key_counts: collections.Counter = collections.Counter()
        self.graph_note = 'off'
        self.use_graphs = False
        self.replays = 0
        if options.cuda_graphs and self.device.type == 'cuda':
            self.use_graphs, self.graph_note = self._graphs_possible()
        self.stream = torch.cuda.Stream(self.device) \
            if self.device.type == 'cuda' else None
        self.train_time = 0.0
        self.images_seen = 0
        self.done = False
        self.stopped_early = False

    # -- building -------------------------------------------------------
    def _build_evaluator(self):
        from mmengine.evaluator import Evaluator
        metrics = copy.deepcopy(list(self.cfg.val_evaluator))
        for metric in metrics:
            # A metric's side file (GroupAccuracy's per-class JSON) would
            # land in the working directory: the harness keeps per-class
            # results in its own result record instead.
            metric.pop('out_file', None)
        evaluator = Evaluator(metrics)
        classes = self.data.classes
        evaluator.dataset_meta = dict(classes=classes) if classes else {}
        return evaluator

    def _ghm_losses(self) -> list:
        if self.hooks.aura is None:
            return []
        losses = find_ghm_cwap_losses(self.model)
        for loss in losses:  # the harness does AURAHook's work
            loss.claim('mmghm.AURAHook')
        return losses

    def _graphs_possible(self) -> Tuple[bool, str]:
        """Whether the head's losses run without a host sync (a copy of
        each is run under ``torch.cuda.set_sync_debug_mode('error')``)."""
        head = self.model.head
        loss = copy.deepcopy(head.loss_module)
        if callable(getattr(loss, 'set_epoch', None)):
            loss.set_epoch(0)
        c = int(self.cfg.model.head.num_classes)
        score = torch.randn(8, c, device=self.device, requires_grad=True)
        label = torch.arange(8, device=self.device) % c
        torch.cuda.synchronize(self.device)
        previous = torch.cuda.get_sync_debug_mode()
        try:
            torch.cuda.set_sync_debug_mode('error')
            loss(score, label, avg_factor=8).backward()
        except RuntimeError as e:
            return False, f'eager: {type(loss).__name__} syncs ({e})'[:300]
        finally:
            torch.cuda.set_sync_debug_mode(previous)
        return True, 'captured'

    # -- one epoch --------------------------------------------------------
    def begin_epoch(self, epoch: int) -> None:
        """The epoch's batch order and augmentation, and the
        before-epoch hooks (DistSamplerSeedHook, LossEpochHook)."""
        self.epoch = epoch
        self.model.train()
        if self.hooks.exact_resume:
            ExactResumeHook.reseed(int(self.spec.seed), epoch)
        if self.hooks.loss_epoch:
            set_loss_epoch(self.model, epoch)
        # Drop captured steps the previous epoch did not use (old learning
        # rates). train_runs synchronises between epochs, so none of them
        # is still running.
        for key in [k for k, g in self.graphs.items()
                    if g.last_epoch < epoch - 1]:
            del self.graphs[key]
        self.sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(self.sampler)), dtype=torch.long)
        if self.device.type == 'cuda':
            order = order.pin_memory()
        order = order.to(self.device, non_blocking=True)
        n = order.numel()
        idx = self.train_ids[order]
        h, w = self.crop
        pad_h = self.padded.shape[1] - h
        pad_w = self.padded.shape[2] - w
        plan = torch.zeros((n, 4), dtype=torch.long, device=self.device)
        plan[:, 0] = idx
        if self.options.augment and self.augment.crop is not None:
            plan[:, 1] = torch.randint(0, pad_h + 1, (n, ),
                                       generator=self.gen, device=self.device)
            plan[:, 2] = torch.randint(0, pad_w + 1, (n, ),
                                       generator=self.gen, device=self.device)
        else:
            plan[:, 1], plan[:, 2] = pad_h // 2, pad_w // 2
        if self.options.augment and self.augment.flip_prob > 0:
            flip = torch.rand(n, generator=self.gen, device=self.device)
            plan[:, 3] = (flip < self.augment.flip_prob).long()
        self.plan = plan
        self.loss_sum.zero_()

    def batch(self, k: int) -> torch.Tensor:
        return self.plan[k * self.batch_size:(k + 1) * self.batch_size]

    def _step(self, batch: torch.Tensor) -> torch.Tensor:
        """One training step on a (B, 4) plan: what the Runner's train_step
        computes, and the loss (detached)."""
        idx = batch[:, 0]
        x = augment_batch(self.padded, idx, batch[:, 1:], self.crop)
        x = x.contiguous(memory_format=torch.channels_last) \
            if self.options.channels_last else x.contiguous()
        y = self.data.labels[idx]
        model = self.model
        x = model.data_preprocessor(dict(inputs=x), True)['inputs']
        # No autocast weight cache: a captured step must recompute the
        # casts (PyTorch's rule for autocast inside CUDA graphs).
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.options.bf16, cache_enabled=False):
            score = model.head(model.extract_feat(x))
            # ClsHead._get_loss, from integer labels.
            losses = dict(loss=model.head.loss_module(
                score, y, avg_factor=score.size(0)))
        loss, _ = model.parse_losses(losses)
        self.optim_wrapper.update_params(loss)
        loss = loss.detach()
        self.loss_sum.add_(loss)
        return loss

    def _graph_key(self, b: int) -> tuple:
        groups = tuple(
            tuple((k, v) for k, v in sorted(g.items()) if k != 'params'
                  and isinstance(v, (bool, int, float, str, type(None))))
            for g in self.optim_wrapper.optimizer.param_groups)
        return (b, groups, tuple(_graph_state(m) for m in self.loss_modules))

    def _capture(self, key: tuple, b: int) -> Optional[_Graph]:
        static = torch.zeros((b, 4), dtype=torch.long, device=self.device)
        graph = torch.cuda.CUDAGraph()
        self.optim_wrapper.zero_grad()
        try:
            with torch.cuda.graph(graph, stream=self.stream):
                self._step(static)
        except RuntimeError as e:  # fall back to eager steps
            self.use_graphs = False
            self.graph_note = f'eager: capture failed ({e})'[:300]
            return None
        if self._graph_key(b) != key:
            self.use_graphs = False
            self.graph_note = ('eager: host state changes at every step, '
                               'so a captured step would go stale')
            return None
        entry = _Graph(graph, static)
        self.graphs[key] = entry
        return entry

    def train_iter(self, k: int) -> None:
        """Iteration ``k`` of the current epoch, then the after-iteration
        hooks (ParamSchedulerHook for iteration-based schedulers, AURAHook
        by iterations)."""
        batch = self.batch(k)
        b = int(batch.shape[0])
        entry = None
        if self.use_graphs:
            key = self._graph_key(b)
            entry = self.graphs.get(key)
            if entry is None:
                self.key_counts[key] += 1
                if self.key_counts[key] > self.options.capture_after:
                    entry = self._capture(key, b)
        if entry is not None:
            entry.static.copy_(batch)
            entry.graph.replay()
            entry.last_epoch = self.epoch
            self.replays += 1
        else:
            self._step(batch)
        self.images_seen += b
        for sched in self.schedulers:
            if not sched.by_epoch:
                sched.step()
        aura = self.hooks.aura
        if aura is not None and aura_due(aura.by_epoch, aura.interval,
                                         iters_done=self.iter + 1):
            self._aura_update()
        self.iter += 1

    def _aura_update(self) -> None:
        for loss in self.ghm_losses:
            loss.update()

    def end_epoch(self) -> None:
        """After-epoch hooks: AURAHook (by epoch), epoch schedulers."""
        aura = self.hooks.aura
        if aura is not None and aura_due(aura.by_epoch, aura.interval,
                                         epochs_done=self.epoch + 1):
            self._aura_update()
        for sched in self.schedulers:
            if sched.by_epoch:
                sched.step()
        self.epoch_losses.append(self.loss_sum / self.iters_per_epoch)
        self.epochs_done = self.epoch + 1
        if self.epochs_done >= self.max_epochs:
            self.done = True

    # -- evaluation -------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> Dict[str, float]:
        """The config's evaluator on softmax scores (``head.predict``)."""
        data = self.eval_set
        ids = self.eval_ids if self.eval_ids is not None else torch.arange(
            len(data), device=self.device)
        model = self.model
        model.eval()
        scores = []
        bs = self.options.eval_batch_size
        for start in range(0, ids.numel(), bs):
            x = data.images[ids[start:start + bs]].permute(0, 3, 1, 2)
            x = x.contiguous(memory_format=torch.channels_last) \
                if self.options.channels_last else x.contiguous()
            x = model.data_preprocessor(dict(inputs=x), False)['inputs']
            with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                enabled=self.options.bf16,
                                cache_enabled=False):
                score = model.head(model.extract_feat(x))
            scores.append(F.softmax(score.float(), dim=1))
        model.train()
        scores = torch.cat(scores).cpu()
        labels = data.labels[ids].cpu()
        preds = scores.argmax(dim=1, keepdim=True)
        samples = [
            dict(pred_score=s, pred_label=p, gt_label=y.view(1))
            for s, p, y in zip(scores, preds, labels)
        ]
        self.evaluator.process(samples)
        metrics = self.evaluator.evaluate(len(samples))
        metrics = {k: _to_float(v) for k, v in metrics.items()}
        self.history.append(dict(epoch=self.epochs_done, metrics=metrics))
        return metrics

    def group_result(self) -> Optional[dict]:
        for metric in self.evaluator.metrics:
            if getattr(metric, 'last_result', None) is not None:
                return metric.last_result
        return None

    def mean_losses(self) -> List[float]:
        if not self.epoch_losses:
            return []
        return torch.stack(self.epoch_losses).cpu().tolist()


def _to_float(v) -> Optional[float]:
    v = float(v)
    return None if math.isnan(v) else v


def _quiet_init_weights(model) -> None:
    """``model.init_weights()`` without MMEngine's per-parameter INFO
    table (the Runner writes it to its log file; here it would flood the
    console once per run)."""
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def _check_model(model) -> None:
    """The harness calls extract_feat / head / loss_module itself: refuse
    models whose loss path differs from ImageClassifier + ClsHead's."""
    from mmpretrain.models import ImageClassifier
    from mmpretrain.models.heads import ClsHead
    if not isinstance(model, ImageClassifier) or \
            type(model).loss is not ImageClassifier.loss:
        raise ValueError('the harness trains ImageClassifier models, got '
                         f'{type(model).__name__}.')
    head = model.head
    if not isinstance(head, ClsHead) or type(head).loss is not ClsHead.loss \
            or type(head)._get_loss is not ClsHead._get_loss:
        raise ValueError(f'{type(head).__name__} computes its loss in its own '
                         'way; the harness reproduces ClsHead.loss only.')
    if getattr(model.data_preprocessor, 'batch_augments', None) is not None:
        raise ValueError('batch augments (Mixup/CutMix) are not reproduced.')
