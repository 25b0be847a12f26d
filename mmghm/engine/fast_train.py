"""Train several small image classifiers at once, equivalently to the Runner.

The reproduction harness of ``tools/analysis/reproduce_cifar_lt.py``. For
each (config, seed) it builds what ``tools/train.py`` builds, through the
same registries and in the same order (seeded randomness, the model with the
config's data preprocessor, the ``DefaultSampler``, the optimizer wrapper,
the parameter schedulers, ``init_weights``), and trains it on images that
were decoded once and live on the training device:

- decoding: the config's pipeline up to its first random transform
  (``LoadImageFromFile``, ``Resize``, ...; or the arrays of data sets such as
  MMPretrain's ``CIFAR10``), run once per image on the host, or the
  same decoding of an image pack (:mod:`mmghm.datasets.image_pack`);
- augmentation: the pipeline's ``RandomCrop`` (zero padding) and
  ``RandomFlip`` (horizontal), done on the device by one gather per batch;
  the model's own data preprocessor then normalises, as in the Runner;
- the step: ``extract_feat`` -> ``head`` -> ``head.loss_module(score,
  label, avg_factor=B)`` -> ``parse_losses`` -> ``OptimWrapper.update_params``
  (what ``ImageClassifier.train_step`` runs, without building a
  ``DataSample`` a image);
- batches: the ``DefaultSampler``'s order (seeded per epoch), batch size and
  ``drop_last`` of the config's train dataloader;
- schedule: the config's ``param_scheduler`` stepped per iteration or per
  epoch as MMEngine's ``ParamSchedulerHook`` does;
- hooks' work: ``ClassCountsHook`` (``set_class_counts`` on the model's
  modules and the metrics), ``LossEpochHook`` (``set_epoch`` before each
  epoch) and ``AURAHook`` (``update()`` of every ``GHMCWAPLoss`` after each
  ``interval`` epochs or iterations), each only where the config lists it;
- evaluation: the config's ``val_evaluator`` (``Accuracy``,
  ``GroupAccuracy``) on softmax scores, as ``head.predict`` gives them.

On CUDA each run has its own stream, so the small kernels of several
ResNet-32s overlap, and each training step is captured once into a CUDA
graph per (batch size, learning rate, loss state) and replayed; steps run
eagerly where a loss synchronises with the host (checked on a copy of the
loss before capturing). Channels-last memory and bf16 autocast are options.
A checkpoint-free harness: it keeps no checkpoint and logs nothing to
``work_dirs``; it writes one result file per run.
"""
import collections
import copy
import datetime
import math
import os
import os.path as osp
import re
import time
from dataclasses import dataclass, field
from itertools import product
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import DefaultScope

from mmghm.engine.hooks.exact_resume_hook import ExactResumeHook
from mmghm.utils.files import atomic_json_dump
from mmghm.utils.provenance import code_commit, device_description

__all__ = [
    'AugmentSpec', 'ImageSet', 'RunSpec', 'HarnessOptions', 'TrainRun',
    'split_pipeline', 'augment_batch', 'load_image_sets', 'expand_sweep',
    'stratified_split', 'train_runs', 'result_record', 'main'
]

RESULT_SCHEMA = 'mmghm.run_result/1'
TOOL = 'tools/analysis/reproduce_cifar_lt.py'
#: Transforms that give the same output every time (run once on the host).
DETERMINISTIC_TRANSFORMS = ('LoadImageFromFile', 'Resize', 'ResizeEdge',
                            'CenterCrop')
#: Custom hooks whose work the harness does; any other stops it.
KNOWN_HOOKS = ('ClassCountsHook', 'AURAHook', 'LossEpochHook',
               'ExactResumeHook')
#: Custom hooks that only observe training (plots, logs): skipped, as
#: their absence does not change what is trained.
OBSERVING_HOOKS = ('GradHistVisHook', )
#: ``--sweep`` shorthands for GHM-CWAP's hyper-parameters.
SWEEP_SHORTHANDS = {
    'alpha': 'model.head.loss.alpha',
    'gamma': 'model.head.loss.gamma',
    'num_bins': 'model.head.loss.num_bins',
    'N': 'model.head.loss.num_bins',
}
_NAME_RE = re.compile(r'^(?P<method>[a-z0-9-]+)_(?P<backbone>[a-z0-9-]+)_'
                      r'(?P<schedule>[a-z0-9-]+)_(?P<data>[a-z0-9-]+)$')


def _type_name(cfg: dict) -> str:
    type_ = cfg.get('type', '')
    return type_.split('.')[-1] if isinstance(type_, str) else \
        getattr(type_, '__name__', str(type_))


# --------------------------------------------------------------------------
# Data: deterministic decoding on the host, augmentation on the device.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AugmentSpec:
    """The random part of a training pipeline, applied on the device.

    Attributes:
        crop: Output (height, width) of ``RandomCrop``, or None.
        padding: Zero padding on every side before the crop.
        flip_prob: Probability of a horizontal flip.
    """
    crop: Optional[Tuple[int, int]] = None
    padding: int = 0
    flip_prob: float = 0.0


def split_pipeline(pipeline: Sequence[dict]) -> Tuple[List[dict],
                                                      AugmentSpec]:
    """Split a pipeline into its decoding prefix and its augmentation.

    Args:
        pipeline: Transform configs, ending with ``PackInputs``.

    Returns:
        (prefix, spec): the deterministic transforms to run once per image
        (``LoadImageFromFile``, ``Resize``, ``ResizeEdge``, ``CenterCrop``)
        and the :class:`AugmentSpec` of the ``RandomCrop`` /
        ``RandomFlip`` that follow.

    Raises:
        ValueError: For any transform or argument the device augmentation
            does not reproduce exactly, naming it and what is allowed.
    """
    pipeline = [dict(t) for t in pipeline]
    if not pipeline or _type_name(pipeline[-1]) != 'PackInputs':
        raise ValueError('the pipeline must end with PackInputs, got '
                         f'{[_type_name(t) for t in pipeline]}.')
    pack = pipeline[-1]
    if set(pack) - {'type', 'algorithm_keys', 'meta_keys'}:
        raise ValueError(f'PackInputs({pack}) has input_key/... options the '
                         'harness does not reproduce.')
    prefix, rest = [], pipeline[:-1]
    while rest and _type_name(rest[0]) in DETERMINISTIC_TRANSFORMS:
        prefix.append(rest.pop(0))
    crop, padding, flip_prob = None, 0, 0.0
    for t in rest:
        name, args = _type_name(t), {k: v for k, v in t.items() if k != 'type'}
        if name == 'RandomCrop' and crop is None:
            size = args.pop('crop_size')
            crop = (size, size) if isinstance(size, int) else tuple(size)
            pad = args.pop('padding', None) or 0
            if not isinstance(pad, int) or pad < 0:
                raise ValueError('RandomCrop padding must be one int >= 0 for '
                                 f'the device augmentation, got {pad!r}.')
            padding = pad
            allowed = dict(pad_val=0, padding_mode='constant',
                           pad_if_needed=False)
            for key, value in args.items():
                if allowed.get(key, object()) != value:
                    raise ValueError(
                        f'RandomCrop({key}={value!r}) is not reproduced on '
                        f'the device; allowed: {allowed}.')
        elif name == 'RandomFlip' and flip_prob == 0.0:
            direction = args.pop('direction', 'horizontal')
            prob = args.pop('prob', None)
            if direction != 'horizontal' or not isinstance(
                    prob, (int, float)) or args:
                raise ValueError(
                    'RandomFlip must be dict(type=\'RandomFlip\', prob=p, '
                    f"direction='horizontal') for the device, got {t}.")
            flip_prob = float(prob)
        else:
            raise ValueError(
                f'{name} is not reproduced by the harness: after the '
                f'deterministic {DETERMINISTIC_TRANSFORMS} it supports '
                'RandomCrop (zero padding) and RandomFlip (horizontal) '
                'before PackInputs.')
    return prefix, AugmentSpec(crop, padding, flip_prob)


def augment_batch(padded: torch.Tensor, idx: torch.Tensor,
                  params: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Crop (and flip) a batch of zero-padded images with one gather.

    Args:
        padded: (N, H + 2p, W + 2p, C) uint8 images, zero-padded by p.
        idx: (B,) indices into ``padded``.
        params: (B, 3) int64: the crop's top and left offset in the padded
            image (``RandomCrop``'s ``offset_h, offset_w``) and 1 to flip
            horizontally after cropping.
        size: Output (height, width).

    Returns:
        Tensor: (B, C, h, w) uint8, a view with channels-last strides (as
        ``PackInputs`` + ``default_collate`` give it, up to memory layout).
    """
    h, w = size
    dev = padded.device
    rows = params[:, :1] + torch.arange(h, device=dev)
    cols = params[:, 1:2] + torch.arange(w, device=dev)
    flipped = params[:, 1:2] + torch.arange(w - 1, -1, -1, device=dev)
    cols = torch.where(params[:, 2:3].bool(), flipped, cols)
    out = padded[idx[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


@dataclass
class ImageSet:
    """Decoded images of one split, on the training device.

    Attributes:
        images: (N, H, W, C) uint8, the pipeline prefix's output.
        labels: (N,) int64.
        classes: Class names, if known.
        description: Where the images came from.
        sha256: Of the decoded pixels (:func:`pixels_sha256`).
    """
    images: torch.Tensor
    labels: torch.Tensor
    classes: Optional[List[str]]
    description: str
    sha256: str

    def __len__(self) -> int:
        return int(self.labels.numel())


def _build_dataset(cfg: dict):
    from mmpretrain.registry import DATASETS
    return DATASETS.build(copy.deepcopy(cfg))


def _decode_dataset(dataset, prefix: List[dict]) -> Tuple[np.ndarray,
                                                          np.ndarray]:
    """Run the deterministic prefix on every sample of a built data set."""
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS
    compose = Compose([TRANSFORMS.build(copy.deepcopy(t)) for t in prefix])
    images, labels = [], []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        out = compose(info)
        if out is None or 'img' not in out:
            raise ValueError(f'the pipeline gave no image for sample {i}.')
        images.append(_hwc(out['img']))
        labels.append(int(np.asarray(info['gt_label']).reshape(-1)[0]))
    return _stack(images), np.asarray(labels, dtype=np.int64)


def _hwc(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:  # PackInputs adds the channel axis to grey images
        img = img[:, :, None]
    if img.dtype != np.uint8:
        raise ValueError(f'decoded images must be uint8, got {img.dtype}.')
    return img


def _stack(images: List[np.ndarray]) -> np.ndarray:
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError('the harness keeps images in one tensor, so every '
                         'decoded image must have the same shape; got '
                         f'{sorted(shapes)[:4]}.')
    return np.stack(images)


def _decode_from_pack(pack, split: str, prefix: List[dict]) -> np.ndarray:
    """Decode a pack split with the prefix (its LoadImageFromFile reads the
    pack's bytes with the same ``mmcv.imfrombytes`` call)."""
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS

    from mmghm.datasets.image_pack import decode_image, loader_settings
    loader = loader_settings(prefix)
    rest = Compose([TRANSFORMS.build(copy.deepcopy(t)) for t in prefix[1:]])
    images = []
    for i in range(len(pack.labels(split))):
        img = decode_image(pack.encoded(split, i), loader)
        out = rest(dict(img=img, img_shape=img.shape[:2],
                        ori_shape=img.shape[:2]))
        images.append(_hwc(out['img']))
    return _stack(images)


def _dataset_cfg(cfg: Config, loader: str) -> dict:
    loader_cfg = cfg.get(loader)
    if not loader_cfg or 'dataset' not in loader_cfg:
        raise ValueError(f'the config has no {loader}.dataset.')
    return copy.deepcopy(loader_cfg['dataset'])


def _pipeline(dataset_cfg: dict) -> List[dict]:
    inner = dataset_cfg.get('dataset', dataset_cfg) \
        if _type_name(dataset_cfg) == 'LongTailedDataset' else dataset_cfg
    return list(inner.get('pipeline') or [])


def load_image_sets(cfg: Config,
                    device: torch.device,
                    pack_path: Optional[str] = None,
                    with_test: bool = True) -> Dict[str, ImageSet]:
    """Decode the config's training and test images onto ``device``.

    Args:
        cfg: A loaded config (its ``train_dataloader`` and
            ``val_dataloader``).
        device: Where the images go.
        pack_path: An image pack to read instead of the data roots; it must
            hold the images the config selects (checked).
        with_test: Also decode the test (validation) set.

    Returns:
        dict: ``'train'`` (and ``'test'``) -> :class:`ImageSet`.
    """
    from mmghm.datasets.image_pack import (data_spec, load_pack,
                                           pixels_sha256, spec_differences)
    splits = [('train', 'train_dataloader')]
    if with_test:
        splits.append(('test', 'val_dataloader'))
    pack = load_pack(pack_path) if pack_path else None
    out = {}
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope',
                                                      'mmpretrain')):
        for split, loader in splits:
            dataset_cfg = _dataset_cfg(cfg, loader)
            prefix, _ = split_pipeline(_pipeline(dataset_cfg))
            if pack is not None:
                expected = data_spec(dataset_cfg)
                found = pack.meta['specs'][split]
                diff = spec_differences(expected, found)
                if diff:
                    raise ValueError(
                        f'the pack {pack.path} does not hold the {split} '
                        f'images of this config: {"; ".join(diff)}.')
                images = _decode_from_pack(pack, split, prefix)
                labels = pack.labels(split)
                classes = pack.meta.get('classes')
                sha = pixels_sha256(images)
                packed = pack.meta['splits'][split]['decoded_sha256']
                check = ('pixels identical to the packer\'s decode'
                         if sha == packed else
                         'PIXELS DIFFER from the packer\'s decode (another '
                         'OpenCV/libjpeg build?)')
                description = (f'{osp.basename(pack.path)} ({split}: '
                               f'{len(labels)} images; {check})')
            else:
                dataset = _build_dataset(dataset_cfg)
                images, labels = _decode_dataset(dataset, prefix)
                classes = dataset.metainfo.get('classes')
                sha = pixels_sha256(images)
                description = f'{type(dataset).__name__} ({split}: ' \
                    f'{len(labels)} images)'
            out[split] = ImageSet(
                images=torch.from_numpy(images).to(device),
                labels=torch.from_numpy(np.asarray(labels)).to(device),
                classes=list(classes) if classes is not None else None,
                description=description,
                sha256=sha)
    return out


def stratified_split(labels: np.ndarray, fraction: float, seed: int,
                     min_keep: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Split indices per class into (kept, held out) with a seeded shuffle.

    Each class with ``n >= 2`` images holds out ``max(1, round(fraction *
    n))`` of them, but always keeps ``min_keep``; a class with one image
    keeps it.

    Args:
        labels: (N,) integer labels.
        fraction: Share held out, in (0, 1).
        seed: Seed of ``numpy.random.RandomState`` (classes in label order).
        min_keep: Images each class keeps at least.

    Returns:
        (kept, held_out): sorted index arrays.
    """
    if not 0 < fraction < 1:
        raise ValueError(f'the fraction must be in (0, 1), got {fraction!r}.')
    rng = np.random.RandomState(seed)
    kept, held = [], []
    for cls in range(int(labels.max()) + 1):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_out = 0 if idx.size < 2 else min(
            max(1, int(round(fraction * idx.size))), idx.size - min_keep)
        held.append(idx[:n_out])
        kept.append(idx[n_out:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


# --------------------------------------------------------------------------
# One run: a (config, seed, variant).
# --------------------------------------------------------------------------


@dataclass
class RunSpec:
    """What to train: a config file, a seed and config overrides.

    Attributes:
        config: Path of the config file.
        seed: ``randomness.seed`` of the run (as ``--cfg-options
            randomness.seed=k`` with tools/train.py).
        cfg_options: ``key=value`` overrides (the ``--cfg-options`` syntax).
        variant: A short name when the overrides make a new method (sweeps).
    """
    config: str
    seed: int = 0
    cfg_options: List[str] = field(default_factory=list)
    variant: Optional[str] = None

    @property
    def stem(self) -> str:
        return osp.splitext(osp.basename(self.config))[0]

    @property
    def name(self) -> str:
        base = self.stem if self.variant is None else \
            f'{self.stem}+{self.variant}'
        return f'{base}/seed{self.seed}'


@dataclass
class HarnessOptions:
    """How the harness trains (not what: that is the config).

    Attributes:
        device: ``'cpu'`` or ``'cuda'`` (or ``'cuda:k'``).
        augment: Apply the pipeline's random crop and flip (False: the
            equivalence check against the Runner without augmentation).
        channels_last: Channels-last memory for the model and inputs.
        bf16: bf16 autocast for the forward pass (losses stay float32).
            Off by default; see the module docstring of the CLI.
        cuda_graphs: Capture training steps in CUDA graphs (CUDA only).
        cudnn_benchmark: Let cuDNN pick its algorithms by timing them.
        epochs: Override ``train_cfg.max_epochs`` (smoke tests only).
        eval_interval: Evaluate every k epochs (0: after the last only).
        val_split: Hold out this share of each class of the training set
            and evaluate on it instead of the test set (for sweeps).
        val_seed: Seed of that split.
        max_train: Keep about this many training images (stratified).
        max_test: Keep about this many test images (stratified).
        time_limit: Stop after the epoch that would pass this many seconds
            from the start of :func:`train_runs` (``main`` counts them from
            its own start).
        eval_batch_size: Images a forward pass in evaluation.
        capture_after: Run a (batch size, lr, loss state) eagerly this many
            times before capturing it (warms up cuDNN and the optimizer).
    """
    device: str = 'cpu'
    augment: bool = True
    channels_last: bool = False
    bf16: bool = False
    cuda_graphs: bool = False
    cudnn_benchmark: bool = False
    epochs: Optional[int] = None
    eval_interval: int = 0
    val_split: Optional[float] = None
    val_seed: int = 0
    max_train: Optional[int] = None
    max_test: Optional[int] = None
    time_limit: Optional[float] = None
    eval_batch_size: int = 1000
    capture_after: int = 2


def load_run_config(spec: RunSpec, epochs: Optional[int] = None) -> Config:
    """Load a config as tools/train.py does, with the run's overrides."""
    if not osp.isfile(spec.config):
        raise FileNotFoundError(f'config file not found: {spec.config}')
    cfg = Config.fromfile(spec.config)
    if spec.cfg_options:
        action = DictAction(option_strings=['--cfg-options'],
                            dest='cfg_options')
        ns = type('NS', (), {})()
        action(None, ns, list(spec.cfg_options))
        cfg.merge_from_dict(ns.cfg_options)
    cfg.randomness = dict(cfg.get('randomness', {}), seed=int(spec.seed))
    if epochs is not None:
        cfg.train_cfg.max_epochs = int(epochs)
    return cfg


def _hook_plan(cfg: Config) -> dict:
    """Which hooks' work to do, from ``custom_hooks``."""
    plan = dict(class_counts=False, loss_epoch=False, aura=None,
                exact_resume=False)
    for hook in cfg.get('custom_hooks') or []:
        name = _type_name(hook)
        if name == 'ClassCountsHook':
            plan['class_counts'] = True
        elif name == 'LossEpochHook':
            plan['loss_epoch'] = True
        elif name == 'AURAHook':
            plan['aura'] = (bool(hook.get('by_epoch', True)),
                            int(hook.get('interval', 1)))
        elif name in OBSERVING_HOOKS:
            continue
        elif name == 'ExactResumeHook':
            # Its per-sample seeding concerns the DataLoader's pipeline,
            # which the harness replaces; its per-epoch re-seeding of the
            # global generators is done in begin_epoch.
            plan['exact_resume'] = True
        else:
            raise ValueError(
                f'the config has custom hook {name}, whose work the harness '
                f'does not do (it knows {KNOWN_HOOKS}); train it with '
                'tools/train.py.')
    return plan


def _host_state(module: torch.nn.Module) -> tuple:
    """Host-side state that a captured step would bake in."""
    if type(module).__name__ == 'LDAMLoss':
        # Its epoch only matters through the DRW switch.
        return ('drw', bool(module.drw_active))
    items = [(key, value) for key, value in sorted(vars(module).items())
             if key != '_warned'
             and isinstance(value, (bool, int, float, str, type(None)))]
    items += [(name, buf.data_ptr())
              for name, buf in module.named_buffers(recurse=False)
              if buf is not None]
    return tuple(items)


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
        self.hooks = _hook_plan(cfg)
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
        if self.hooks['class_counts']:
            self._apply_class_counts()
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

    def _apply_class_counts(self) -> None:
        """What ClassCountsHook does before training."""
        counts = list(self.class_counts)
        for metric in self.evaluator.metrics:
            if callable(getattr(metric, 'set_class_counts', None)):
                metric.set_class_counts(counts)
        for module in self.model.modules():
            if callable(getattr(module, 'set_class_counts', None)):
                module.set_class_counts(counts)

    def _ghm_losses(self) -> list:
        if self.hooks['aura'] is None:
            return []
        from mmghm.engine.hooks.aura_hook import find_ghm_cwap_losses
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
        if self.hooks['exact_resume']:
            ExactResumeHook.reseed(int(self.spec.seed), epoch)
        if self.hooks['loss_epoch']:
            for module in self.model.modules():
                if callable(getattr(module, 'set_epoch', None)):
                    module.set_epoch(epoch)
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
        return (b, groups, tuple(_host_state(m) for m in self.loss_modules))

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
        aura = self.hooks['aura']
        if aura is not None and not aura[0] and \
                (self.iter + 1) % aura[1] == 0:
            self._aura_update()
        self.iter += 1

    def _aura_update(self) -> None:
        for loss in self.ghm_losses:
            loss.update()

    def end_epoch(self) -> None:
        """After-epoch hooks: AURAHook (by epoch), epoch schedulers."""
        aura = self.hooks['aura']
        if aura is not None and aura[0] and (self.epoch + 1) % aura[1] == 0:
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


def _stratified_subset(labels: np.ndarray, total: int,
                       seed: int) -> np.ndarray:
    """About ``total`` indices, each class in proportion, at least one."""
    if total >= labels.size:
        return np.arange(labels.size)
    frac = 1.0 - total / labels.size
    kept, _ = stratified_split(labels, frac, seed)
    return kept


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


# --------------------------------------------------------------------------
# Many runs at once.
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Results.
# --------------------------------------------------------------------------


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
    m = _NAME_RE.match(spec.stem)
    data = m['data'] if m else spec.stem
    schedule = m['schedule'] if m else 'cfg'
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
    """The ``mmghm.run_result/1`` record of a trained and evaluated run."""
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
        schema=RESULT_SCHEMA,
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
    return record


def _repo_relative(path: str) -> str:
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = osp.abspath(path)
    return osp.relpath(path, root) if path.startswith(root + os.sep) \
        else path


def write_result(record: dict, out_dir: str, suite: str,
                 spec: RunSpec) -> str:
    """Write ``<out_dir>/<suite>/<stem>[+<variant>]/seed<k>.json``."""
    folder = spec.stem if spec.variant is None else \
        f'{spec.stem}+{spec.variant}'
    path = osp.join(out_dir, suite, folder, f'seed{spec.seed}.json')
    atomic_json_dump(record, path, indent=1, allow_nan=False)
    return path


# --------------------------------------------------------------------------
# Sweeps.
# --------------------------------------------------------------------------


def _parse_value(text: str):
    import ast
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def expand_sweep(items: Sequence[str]) -> List[Tuple[str, List[str]]]:
    """``['alpha=0.5,0.9', 'gamma=0.4,0.8']`` -> the grid of variants.

    Keys are config keys (``model.head.loss.alpha``) or the shorthands
    ``alpha``, ``gamma``, ``num_bins`` (``N``). Values are Python literals
    (no code is run).

    Returns:
        list of (variant name, cfg_options) in grid order.
    """
    axes = []
    for item in items:
        if '=' not in item:
            raise ValueError(f'--sweep takes KEY=V1,V2,..., got {item!r}.')
        key, values = item.split('=', 1)
        full = SWEEP_SHORTHANDS.get(key, key)
        vals = [v for v in values.split(',') if v != '']
        if not vals:
            raise ValueError(f'--sweep {key} has no values.')
        for v in vals:
            if not isinstance(_parse_value(v), (int, float, bool, str)):
                raise ValueError(f'--sweep {key}: {v!r} is not a number, '
                                 'bool or string.')
        short = key.split('.')[-1]
        axes.append([(f'{short}{v}', f'{full}={v}') for v in vals])
    return [('-'.join(n for n, _ in combo), [o for _, o in combo])
            for combo in product(*axes)]


# --------------------------------------------------------------------------
# The Runner's own loop, for speed comparisons.
# --------------------------------------------------------------------------


class RunnerLoop:
    """The Runner's training path for one config, for speed comparisons:
    the config's DataLoader (pipeline, workers, ``default_collate`` as
    tools/train.py sets it) feeding ``model.train_step``."""

    def __init__(self, cfg: Config, device: str = 'cpu') -> None:
        from mmengine.optim import build_optim_wrapper
        from mmengine.runner import Runner, set_random_seed
        from mmpretrain.registry import MODELS

        from mmghm.datasets.utils import dataset_class_counts
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
        for module in self.model.modules():
            if callable(getattr(module, 'set_class_counts', None)):
                module.set_class_counts(counts)
            if callable(getattr(module, 'set_epoch', None)):
                module.set_epoch(0)
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


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def build_parser():
    import argparse
    parser = argparse.ArgumentParser(
        description='Train configs (several methods and seeds at once) with '
        'data decoded once onto the device; write one result file a run.')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides for every config')
    parser.add_argument('--sweep', nargs='+', default=[],
                        help='KEY=V1,V2 grids (alpha, gamma, num_bins or any '
                        'config key); needs --val-split')
    parser.add_argument('--val-split', type=float, default=None,
                        help='evaluate on this share of each training class '
                        '(held out of training), never on the test set')
    parser.add_argument('--val-seed', type=int, default=0)
    parser.add_argument('--pack', help='image pack (tools/analysis/'
                        'pack_cifar_lt.py) to read instead of the data roots')
    parser.add_argument('--device', default=None,
                        help='cpu or cuda (default: cuda when available)')
    parser.add_argument('--epochs', type=int, default=None,
                        help='override max_epochs (smoke tests)')
    parser.add_argument('--max-train', type=int, default=None)
    parser.add_argument('--max-test', type=int, default=None)
    parser.add_argument('--no-aug', action='store_true',
                        help='no random crop/flip (equivalence checks)')
    parser.add_argument('--channels-last', choices=['auto', 'on', 'off'],
                        default='auto', help='auto: on for CUDA')
    parser.add_argument('--cuda-graphs', choices=['auto', 'off'],
                        default='auto')
    parser.add_argument('--cudnn-benchmark', choices=['auto', 'on', 'off'],
                        default='auto', help='auto: on for CUDA')
    parser.add_argument('--bf16', action='store_true',
                        help='bf16 autocast; compare with fp32 first')
    parser.add_argument('--eval-interval', type=int, default=0)
    parser.add_argument('--time-limit', type=float, default=None,
                        help='seconds; stop after the epoch that would '
                        'pass it (results go to a *_partial suite)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads (torch.set_num_threads)')
    parser.add_argument('--out-dir', default='results')
    parser.add_argument('--suite', default=None)
    parser.add_argument('--no-write', action='store_true')
    parser.add_argument('--check-graphs', action='store_true',
                        help='first train each config for 3 short epochs '
                        'eagerly and with CUDA graphs and compare; a run '
                        'whose graphs disagree trains eagerly')
    parser.add_argument('--compare-runner', type=int, default=0,
                        metavar='ITERS',
                        help='only time ITERS steps of the harness against '
                        'the Runner path (DataLoader + train_step) for '
                        'each config, and print images/s')
    return parser


def options_from_args(args) -> HarnessOptions:
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    cuda = device.startswith('cuda')

    def auto(value: str) -> bool:
        return cuda if value == 'auto' else value == 'on'

    if args.sweep and not args.val_split:
        raise SystemExit('--sweep needs --val-split: hyper-parameters are '
                         'chosen on a split of the training set, never on '
                         'the test set.')
    if args.bf16 and not cuda:
        raise SystemExit('--bf16 is for CUDA runs.')
    return HarnessOptions(
        device=device, augment=not args.no_aug,
        channels_last=auto(args.channels_last), bf16=args.bf16,
        cuda_graphs=cuda and args.cuda_graphs == 'auto',
        cudnn_benchmark=auto(args.cudnn_benchmark), epochs=args.epochs,
        eval_interval=args.eval_interval, val_split=args.val_split,
        val_seed=args.val_seed, max_train=args.max_train,
        max_test=args.max_test, time_limit=args.time_limit)


def _data_key(cfg: Config, pack: Optional[str], with_test: bool) -> str:
    parts = [repr(cfg.train_dataloader.dataset), str(pack), str(with_test)]
    if with_test:
        parts.append(repr(cfg.val_dataloader.dataset))
    return '\n'.join(parts)


def main(argv: Optional[Sequence[str]] = None,
         log: Callable[[str], None] = print) -> List[dict]:
    """The CLI of ``tools/analysis/reproduce_cifar_lt.py``.

    Returns:
        list[dict]: The result records (also written unless ``--no-write``).
    """
    t_main = time.perf_counter()
    args = build_parser().parse_args(argv)
    import mmghm  # noqa: F401  (registers modules)
    if args.threads:
        torch.set_num_threads(args.threads)
    options = options_from_args(args)
    device = torch.device(options.device)
    torch.backends.cudnn.benchmark = options.cudnn_benchmark
    variants = expand_sweep(args.sweep) if args.sweep else [(None, [])]
    specs = [
        RunSpec(config=c, seed=s, cfg_options=list(args.cfg_options) + opts,
                variant=name)
        for c in args.configs for name, opts in variants for s in args.seeds
    ]
    data_cache: Dict[str, Dict[str, ImageSet]] = {}
    runs = []
    t0 = time.perf_counter()
    for spec in specs:
        cfg = load_run_config(spec, options.epochs)
        with_test = not options.val_split
        key = _data_key(cfg, args.pack, with_test)
        if key not in data_cache:
            data_cache[key] = load_image_sets(cfg, device, args.pack,
                                              with_test=with_test)
            sets = data_cache[key]
            log('decoded ' + ', '.join(f'{k}: {v.description}'
                                       for k, v in sets.items()))
        runs.append(TrainRun(spec, data_cache[key], options))
    log(f'built {len(runs)} run(s) in {time.perf_counter() - t0:.1f} s on '
        f'{device_description(device)}')
    if args.check_graphs and options.cuda_graphs:
        checked: Dict[str, dict] = {}
        for run in runs:
            if run.spec.config not in checked:
                t = time.perf_counter()
                checked[run.spec.config] = res = check_graphs(
                    run.spec, run.data_sets, options)
                log(f'graph check {run.spec.stem}: max relative weight '
                    f'difference {res["max_rel_diff"]:.2e} after '
                    f'{res["steps"]} steps ({res["replays"]} replayed), '
                    f'{res["graph_note"]}, {time.perf_counter() - t:.1f} s')
            res = checked[run.spec.config]
            if res['max_rel_diff'] > 1e-3:
                run.use_graphs = False
                run.graph_note = (f'eager: graph check differed '
                                  f'({res["max_rel_diff"]:.1e})')
    if args.compare_runner:
        for run in runs:
            res = compare_with_runner(run, args.compare_runner)
            log(f'{run.spec.name}: harness {res["harness"]:.1f} images/s, '
                f'Runner path (DataLoader + train_step) {res["runner"]:.1f} '
                f'images/s, ratio {res["ratio"]:.2f} (median of '
                f'{res["rounds"]} alternating rounds of {res["iters"]} '
                'iterations)')
        return []
    if options.time_limit is not None:  # counted from the start of main
        options.time_limit -= time.perf_counter() - t_main
        log(f'{options.time_limit:.0f} s left for training')
    wall = train_runs(runs, log=log)
    commit = code_commit() or 'unknown'
    records = []
    log(f'{"run":60s} {"epochs":>6s} {"top-1":>6s} {"time s":>7s} '
        f'{"images/s":>9s}  steps')
    for run in runs:
        record = result_record(run, wall, len(runs), commit)
        records.append(record)
        top1 = record['metrics'].get('accuracy/top1')
        log(f'{run.spec.name:60s} {run.epochs_done:6d} '
            f'{top1 if top1 is not None else float("nan"):6.2f} '
            f'{run.train_time:7.1f} {run.images_seen / wall:9.0f}  '
            f'{run.graph_note}')
        if not args.no_write:
            suite = args.suite or default_suite(run.spec, options, device,
                                                run.stopped_early)
            path = write_result(record, args.out_dir, suite, run.spec)
            log(f'  -> {path}')
    total = sum(r.images_seen for r in runs)
    log(f'all: {wall:.1f} s wall, {total / wall:.0f} images/s, '
        f'{wall / max(len(runs), 1):.1f} s a run on average')
    return records
