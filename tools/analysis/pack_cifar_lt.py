"""Pack the images a long-tailed config uses into one small ``.npz``.

For device runs that cannot carry the whole image folder: only the
training subset the config selects (e.g. CIFAR-10-LT, IF 100: 12,406 of
50,000 images) and the test set are stored, as their original JPEG bytes
with offsets, labels and relative paths, plus a checksum of the decoded
pixels (see :mod:`mmghm.engine.fast_train.image_pack`). The harness reads
it with ``--pack`` and decodes it exactly as ``LoadImageFromFile`` decodes
the files.

    python tools/analysis/pack_cifar_lt.py \\
        configs/ghm_cwap/ghm-cwap_resnet32_200e_cifar10jpeg-lt-if100.py \\
        --zip ../shared/data/cifar10-jpeg.zip \\
        --out .device-data/cifar10jpeg-lt-if100.npz

``--zip`` unpacks the zip once into a cache folder and reads from there;
``--data-root DIR`` reads an unpacked folder instead (else the config's own
root, e.g. ``$CIFAR10_JPEG_ROOT``). Every config of the same data (any
method, any schedule) can use the same pack.
"""
import argparse
import datetime
import hashlib
import os.path as osp
import sys

from mmengine.config import DictAction

import mmghm  # noqa: F401  (registers modules)
from mmghm.engine.fast_train.image_pack import (pack_from_config,
                                                set_data_root)
from mmghm.datasets.utils import prepare_cifar10_jpeg
from mmghm.utils.launch import apply_cfg_options, read_config


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--out', required=True, help='the .npz to write')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--zip', help='cifar10-jpeg.zip to unpack and read')
    group.add_argument('--data-root', help='an unpacked image folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    # as tools/train.py loads them: syntax errors name file and line,
    # misspelt keys warn, values of the wrong type are refused
    cfg = read_config(args.config)
    if args.cfg_options:
        apply_cfg_options(cfg, args.cfg_options)
    extra = dict(config=osp.basename(args.config),
                 date=datetime.date.today().isoformat())
    if args.zip:
        set_data_root(cfg, str(prepare_cifar10_jpeg(zip_path=args.zip)))
        extra.update(source=osp.basename(args.zip),
                     source_sha256=_sha256(args.zip))
    elif args.data_root:
        set_data_root(cfg, args.data_root)
    meta = pack_from_config(cfg, args.out, extra)
    size = osp.getsize(args.out) / 2**20
    for split, info in meta['splits'].items():
        print(f'{split}: {info["num_images"]} images, class counts '
              f'{info["class_counts"]}, decoded sha256 '
              f'{info["decoded_sha256"][:16]}...')
    print(f'wrote {args.out} ({size:.1f} MiB)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
