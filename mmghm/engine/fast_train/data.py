"""The harness's data: decoded once on the host, augmented on the device.

- decoding: the config's pipeline up to its first random transform
  (``LoadImageFromFile``, ``Resize``, ...; or the arrays of data sets such as
  MMPretrain's ``CIFAR10``), run once per image on the host, or the same
  decoding of an image pack (:mod:`.image_pack`);
- augmentation: the pipeline's ``RandomCrop`` (zero padding) and
  ``RandomFlip`` (horizontal), done on the device by one gather per batch
  (:func:`augment_batch`);
- subsets: stratified validation splits and smoke-test subsets.
"""
import copy
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

__all__ = [
    'DETERMINISTIC_TRANSFORMS', 'AugmentSpec', 'ImageSet', 'split_pipeline',
    'augment_batch', 'load_image_sets', 'stratified_split'
]

#: Transforms that give the same output every time (run once on the host).
DETERMINISTIC_TRANSFORMS = ('LoadImageFromFile', 'Resize', 'ResizeEdge',
                            'CenterCrop')


def _type_name(cfg: dict) -> str:
    type_ = cfg.get('type', '')
    return type_.split('.')[-1] if isinstance(type_, str) else \
        getattr(type_, '__name__', str(type_))


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

    from .image_pack import decode_image, loader_settings
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
    from .image_pack import (data_spec, load_pack, pixels_sha256,
                             spec_differences)
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


def _stratified_subset(labels: np.ndarray, total: int,
                       seed: int) -> np.ndarray:
    """About ``total`` indices, each class in proportion, at least one."""
    if total >= labels.size:
        return np.arange(labels.size)
    frac = 1.0 - total / labels.size
    kept, _ = stratified_split(labels, frac, seed)
    return kept
