"""A compact pack of the encoded images of a config's training and test sets.

A GPU machine that cannot read the full image folder (the CIFAR-10 JPEG zip
is 65 MB; a device run may carry 64 MiB in all) can still train on exactly
the images a config uses: :func:`write_pack` stores only those images (the
long-tailed training subset and the test set) as their original encoded
bytes, with offsets, labels and provenance, in one compressed ``.npz``
without pickled objects (loading it never runs code). Decoding a packed
image with the config's own ``LoadImageFromFile`` settings
(:func:`decode_pack_split`) gives the same pixels as reading the file,
because it runs the same ``mmcv.imfrombytes`` call on the same bytes; the
pack records a SHA-256 of the decoded pixels so that a machine with another
OpenCV build can check it decodes identically.

Layout of the ``.npz`` (``PACK_FORMAT``):

- ``meta``: a JSON string (format, data specs, classes, counts, checksums);
- ``<split>_bytes`` (uint8, all encoded images back to back),
  ``<split>_offsets`` (int64, N + 1), ``<split>_labels`` (int64, N),
  ``<split>_paths`` (str, N: paths relative to the data root) for
  ``split`` in ``('train', 'test')``.
"""
import copy
import hashlib
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmghm.utils.npz import load_npz

PACK_FORMAT = 'mmghm.image_pack/1'
SPLITS = ('train', 'test')
#: ``LoadImageFromFile`` arguments a pack can reproduce (others change what
#: is read or decoded: they must keep these defaults).
_LOADER_DEFAULTS = dict(to_float32=False, ignore_empty=False)
_LONG_TAILED_TYPES = ('mmghm.LongTailedDataset', 'LongTailedDataset')


def _strip_scope(type_name: str) -> str:
    return type_name.split('.')[-1] if isinstance(type_name, str) else ''


def loader_settings(pipeline: Sequence[dict]) -> dict:
    """The decoding settings of a pipeline's ``LoadImageFromFile``.

    Args:
        pipeline: A data pipeline config (list of transform dicts).

    Returns:
        dict: ``type``, ``color_type`` and ``imdecode_backend`` as the
        transform resolves them (its defaults filled in).

    Raises:
        ValueError: If the pipeline does not start with ``LoadImageFromFile``
            or sets an argument a pack cannot reproduce.
    """
    if not pipeline or _strip_scope(pipeline[0].get('type')) != \
            'LoadImageFromFile':
        first = pipeline[0].get('type') if pipeline else None
        raise ValueError(
            'a pack replaces the reading of image files, so the pipeline '
            f'must start with LoadImageFromFile, but it starts with {first!r}'
            '. Configs that hold decoded arrays (e.g. MMPretrain\'s CIFAR10) '
            'need no pack.')
    cfg = dict(pipeline[0])
    for key, default in _LOADER_DEFAULTS.items():
        if cfg.get(key, default) != default:
            raise ValueError(
                f'LoadImageFromFile({key}={cfg[key]!r}) cannot be read from '
                f'a pack; allowed: {key}={default!r}.')
    return dict(type='LoadImageFromFile',
                color_type=cfg.get('color_type', 'color'),
                imdecode_backend=cfg.get('imdecode_backend', 'cv2'))


def data_spec(dataset_cfg: dict) -> dict:
    """What identifies the images of a data set config, without its paths.

    Two configs with equal specs select the same images in the same order
    from the same kind of data (the data root is left out: it differs
    between machines).

    Args:
        dataset_cfg: ``train_dataloader.dataset`` or ``val_dataloader.dataset``
            of a config.

    Returns:
        dict: ``long_tailed`` (imbalance factor, type, seed, n_max) or None,
        the wrapped data set's ``type``, ``data_prefix``, ``split`` and
        ``ann_file``, and the ``loader`` settings.
    """
    cfg = copy.deepcopy(dict(dataset_cfg))
    long_tailed = None
    if cfg.get('type') in _LONG_TAILED_TYPES:
        long_tailed = dict(
            imbalance_factor=cfg['imbalance_factor'],
            imbalance_type=cfg.get('imbalance_type', 'exp'),
            seed=cfg.get('seed', 0),
            n_max=cfg.get('n_max'))
        cfg = dict(cfg['dataset'])
    prefix = cfg.get('data_prefix')
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path', prefix.get('img'))
    return dict(
        long_tailed=long_tailed,
        type=cfg.get('type'),
        data_prefix=prefix,
        split=cfg.get('split'),
        ann_file=cfg.get('ann_file') or None,
        loader=loader_settings(cfg.get('pipeline') or []))


def spec_differences(expected: dict, found: dict,
                     where: str = '') -> List[str]:
    """Human-readable differences between two :func:`data_spec` dicts."""
    out = []
    for key in sorted(set(expected) | set(found)):
        a, b = expected.get(key), found.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += spec_differences(a, b, f'{where}{key}.')
        elif a != b:
            out.append(f'{where}{key}: config {a!r}, pack {b!r}')
    return out


def pixels_sha256(images: np.ndarray) -> str:
    """SHA-256 of decoded pixels (C-contiguous uint8 bytes plus shape)."""
    images = np.ascontiguousarray(images)
    digest = hashlib.sha256(repr((images.shape, str(images.dtype))).encode())
    digest.update(images.tobytes())
    return digest.hexdigest()


def decode_image(encoded: bytes, loader: dict) -> np.ndarray:
    """Decode one image as ``LoadImageFromFile`` with ``loader`` settings.

    The same call as the transform's (``mmcv.imfrombytes(bytes,
    flag=color_type, backend=imdecode_backend)``) on the file's bytes.
    """
    import mmcv
    img = mmcv.imfrombytes(
        encoded, flag=loader['color_type'], backend=loader['imdecode_backend'])
    if img is None:
        raise ValueError('an image of the pack could not be decoded')
    return img


def _read_split(dataset) -> Tuple[List[bytes], np.ndarray, List[str]]:
    """Encoded bytes, labels and paths of every sample of a built data set."""
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    blobs, labels, paths = [], [], []
    root = getattr(getattr(dataset, 'dataset', dataset), 'data_root', '')
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = info.get('img_path')
        if path is None:
            raise ValueError(
                f'sample {i} of {type(dataset).__name__} has no img_path: '
                'only data sets read from image files can be packed.')
        with open(path, 'rb') as f:
            blobs.append(f.read())
        labels.append(int(np.asarray(info['gt_label']).reshape(-1)[0]))
        paths.append(osp.relpath(path, root) if root else path)
    return blobs, np.asarray(labels, dtype=np.int64), paths


def write_pack(path: str, train_dataset, test_dataset, train_spec: dict,
               test_spec: dict, extra_meta: Optional[dict] = None) -> dict:
    """Write the encoded images of two built data sets into ``path``.

    Args:
        path: The ``.npz`` file to write (its folder is created).
        train_dataset: The built training set (e.g. a
            :class:`mmghm.datasets.LongTailedDataset`), in its own order.
        test_dataset: The built test (validation) set.
        train_spec: :func:`data_spec` of the training set's config.
        test_spec: :func:`data_spec` of the test set's config.
        extra_meta: More provenance to store (e.g. the source zip's hash).

    Returns:
        dict: The pack's metadata (also stored in it).
    """
    arrays: Dict[str, np.ndarray] = {}
    meta = dict(format=PACK_FORMAT, specs=dict(train=train_spec,
                                               test=test_spec),
                splits={})
    classes = getattr(train_dataset, 'metainfo', {}).get('classes')
    meta['classes'] = list(classes) if classes is not None else None
    for split, dataset, spec in (('train', train_dataset, train_spec),
                                 ('test', test_dataset, test_spec)):
        blobs, labels, paths = _read_split(dataset)
        offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in blobs])
        arrays[f'{split}_bytes'] = np.frombuffer(b''.join(blobs),
                                                 dtype=np.uint8)
        arrays[f'{split}_offsets'] = offsets
        arrays[f'{split}_labels'] = labels
        arrays[f'{split}_paths'] = np.asarray(paths, dtype=str)
        images = np.stack([decode_image(b, spec['loader']) for b in blobs])
        num_classes = len(classes) if classes is not None else \
            int(labels.max()) + 1
        meta['splits'][split] = dict(
            num_images=len(blobs),
            class_counts=np.bincount(labels, minlength=num_classes).tolist(),
            image_shape=list(images.shape[1:]),
            encoded_bytes=int(offsets[-1]),
            decoded_sha256=pixels_sha256(images))
    meta.update(extra_meta or {})
    arrays['meta'] = np.asarray(json.dumps(meta, sort_keys=True))
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.partial.npz'
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return meta


@dataclass
class ImagePack:
    """A loaded pack: its metadata and, per split, bytes/offsets/labels."""
    path: str
    meta: dict
    arrays: Dict[str, np.ndarray]

    def labels(self, split: str) -> np.ndarray:
        return self.arrays[f'{split}_labels']

    def encoded(self, split: str, i: int) -> bytes:
        offsets = self.arrays[f'{split}_offsets']
        return self.arrays[f'{split}_bytes'][offsets[i]:offsets[i +
                                                                1]].tobytes()

    def __len__(self) -> int:
        return len(self.labels('train'))


def load_pack(path: str) -> ImagePack:
    """Read a pack written by :func:`write_pack` (no pickle is allowed)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image pack not found: {path}')
    arrays = load_npz(path)
    if 'meta' not in arrays:
        raise ValueError(f'{path} is not an mmghm image pack (no meta).')
    meta = json.loads(str(arrays.pop('meta')))
    if meta.get('format') != PACK_FORMAT:
        raise ValueError(f'{path} has format {meta.get("format")!r}; this '
                         f'version of mmghm reads {PACK_FORMAT!r}.')
    missing = [f'{s}_{k}' for s in SPLITS
               for k in ('bytes', 'offsets', 'labels')
               if f'{s}_{k}' not in arrays]
    if missing:
        raise ValueError(f'{path} lacks the arrays {missing}.')
    return ImagePack(path=path, meta=meta, arrays=arrays)


def decode_pack_split(pack: ImagePack, split: str,
                      loader: Optional[dict] = None) -> np.ndarray:
    """Decode every image of one split: (N, H, W, C) uint8.

    Args:
        pack: A loaded pack.
        split: ``'train'`` or ``'test'``.
        loader: ``LoadImageFromFile`` settings (:func:`loader_settings`);
            defaults to the ones the pack was written with.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')
    loader = loader or pack.meta['specs'][split]['loader']
    n = len(pack.labels(split))
    return np.stack([decode_image(pack.encoded(split, i), loader)
                     for i in range(n)])


def set_data_root(cfg, data_root: str) -> None:
    """Point a config's train/val/test data sets at ``data_root``."""
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        if not dataset:
            continue
        if dataset.get('type') in _LONG_TAILED_TYPES:
            dataset = dataset['dataset']
        dataset['data_root'] = data_root


def pack_from_config(cfg, out_path: str,
                     extra_meta: Optional[dict] = None) -> dict:
    """Build a config's training and validation sets and pack their images.

    Args:
        cfg: A loaded config (``mmengine.Config``) whose data roots exist.
        out_path: The ``.npz`` to write.
        extra_meta: More provenance to store.

    Returns:
        dict: The pack's metadata.
    """
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    train_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    test_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    train_spec, test_spec = data_spec(train_cfg), data_spec(test_cfg)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmpretrain')):
        train = DATASETS.build(train_cfg)
        test = DATASETS.build(test_cfg)
    return write_pack(out_path, train, test, train_spec, test_spec,
                      extra_meta)
