"""Choose tau of tau-normalisation (Kang et al., ICLR 2020) on a validation
split carved from the training set, never on the test set.

The split: images of the training set's *base* data that the long-tailed
construction (``mmghm.LongTailedDataset``) left out, up to ``--per-class``
of each class (a seeded draw). They come from the training distribution of
images, stage 1 never saw them, and they are (nearly) balanced like the test
set. A class whose every training image was kept (CIFAR-10-LT's head class:
5,000 of 5,000) has none and is left out of the choice; the result file
names such classes. The score of a tau is the mean of the per-class
accuracies on the split (the balanced accuracy the test set measures).

For each tau of the grid the classifier ``z_c = (w_c / ||w_c||^tau) . x``
(without the bias, as ``mmghm.TauNormLinearClsHead`` by default) is scored
on features extracted once; the best tau (the smallest of ties) is written
with the whole curve to ``--out`` and the test command is printed::

    CFG=configs/decoupling/softmax-taunorm_resnet32_30e_cifar10jpeg-lt-if100.py
    python tools/analysis/select_tau.py $CFG \\
        work_dirs/softmax_s0/epoch_30.pth \\
        --out work_dirs/softmax-taunorm_s0/tau.json
    python tools/test.py $CFG work_dirs/softmax_s0/epoch_30.pth \\
        --cfg-options model.head.tau=TAU
"""
import argparse
import copy
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

import mmghm  # noqa: F401  (registers the modules, checkpoint allow-list)
from mmghm.models.heads.decoupling_heads import tau_normalized
from mmghm.utils.files import atomic_json_dump

DEFAULT_TAUS = [round(0.1 * i, 1) for i in range(21)]  # 0, 0.1, ..., 2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Choose tau of tau-normalisation on the training '
        "images the long-tailed construction left out.")
    parser.add_argument('config', help='config of the model (e.g. configs/'
                        'decoupling/softmax-taunorm_*.py)')
    parser.add_argument('checkpoint', help='stage-1 checkpoint (.pth)')
    parser.add_argument('--out', required=True,
                        help='JSON file for the chosen tau and the curve')
    parser.add_argument('--per-class', type=int, default=100,
                        help='validation images a class at most (default '
                        '100)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the draw of the split (default 0)')
    parser.add_argument('--taus', type=float, nargs='+', default=None,
                        help='taus to try (default 0, 0.1, ..., 2)')
    parser.add_argument('--keep-bias', action='store_true',
                        help='add the classifier bias (as keep_bias=True)')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        metavar='KEY=VALUE', help='override config keys')
    return parser.parse_args(argv)


def held_out_indices(kept: np.ndarray, labels: np.ndarray, num_classes: int,
                     per_class: int, seed: int) -> Dict[str, object]:
    """Up to ``per_class`` indices of each class among those not ``kept``.

    Returns:
        dict: ``indices`` (sorted, int64), ``per_class`` (images drawn of
        each class) and ``excluded`` (classes with no held-out image).
    """
    if per_class < 1:
        raise ValueError(f'per_class must be >= 1, got {per_class}.')
    mask = np.ones(len(labels), dtype=bool)
    mask[np.asarray(kept, dtype=np.int64)] = False
    rng = np.random.RandomState(seed)
    chosen, drawn = [], []
    for cls in range(num_classes):
        idx = np.flatnonzero(mask & (labels == cls))
        idx = idx[rng.permutation(idx.size)][:per_class]
        chosen.append(idx)
        drawn.append(int(idx.size))
    indices = np.sort(np.concatenate(chosen)).astype(np.int64)
    return dict(indices=indices, per_class=drawn,
                excluded=[c for c, n in enumerate(drawn) if n == 0])


def balanced_accuracy(pred: torch.Tensor, labels: torch.Tensor,
                      classes: Sequence[int]) -> float:
    """Mean over ``classes`` of the share of their images predicted right."""
    accs = [(pred[labels == c] == c).double().mean().item() for c in classes]
    return float(np.mean(accs))


def tau_curve(feats: torch.Tensor, labels: torch.Tensor,
              weight: torch.Tensor, bias: Optional[torch.Tensor],
              taus: Sequence[float], classes: Sequence[int]) -> List[float]:
    """Balanced accuracy of ``feats @ tau_normalized(weight).T (+ bias)``
    for every tau."""
    curve = []
    for tau in taus:
        logits = torch.nn.functional.linear(
            feats, tau_normalized(weight, tau), bias)
        curve.append(balanced_accuracy(logits.argmax(1), labels, classes))
    return curve


def _lt_dataset_cfg(cfg):
    train = cfg.train_dataloader.dataset
    if train.get('type') not in ('mmghm.LongTailedDataset',
                                 'LongTailedDataset'):
        raise ValueError(
            'select_tau.py carves its validation split from the images the '
            'long-tailed construction left out, so the training set must be '
            "an mmghm.LongTailedDataset; this config's is "
            f"{train.get('type')!r}. Hold out a split of your training set "
            'before stage 1 instead.')
    return train


def extract_features(model, dataset, batch_size: int):
    """Pre-logit features and labels of every sample of ``dataset``."""
    from mmengine.dataset import pseudo_collate
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size,
                                         shuffle=False,
                                         collate_fn=pseudo_collate)
    feats, labels = [], []
    model.eval()
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            x = model.head.pre_logits(model.extract_feat(data['inputs']))
            feats.append(x.float())
            labels.append(torch.cat([s.gt_label for s in
                                     data['data_samples']]))
    return torch.cat(feats), torch.cat(labels)


def select_tau(cfg, checkpoint: str, per_class: int = 100, seed: int = 0,
               taus: Optional[Sequence[float]] = None,
               keep_bias: bool = False, batch_size: int = 256) -> dict:
    """The study the script writes (see the module docstring)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    from mmpretrain.registry import DATASETS, MODELS
    taus = list(DEFAULT_TAUS if taus is None else taus)
    if not taus or any(t < 0 for t in taus):
        raise ValueError(f'taus must be numbers >= 0, got {taus}.')
    train_cfg = _lt_dataset_cfg(cfg)
    scope = cfg.get('default_scope', 'mmpretrain')
    with DefaultScope.overwrite_default_scope(scope):
        lt = DATASETS.build(copy.deepcopy(train_cfg))
        lt.full_init()
        kept = lt.get_ori_indices()
        base_cfg = copy.deepcopy(train_cfg.dataset)
        # images as the test set sees them (no augmentation)
        base_cfg.pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
        base = DATASETS.build(base_cfg)
        base.full_init()
        labels = np.asarray(base.get_gt_labels(), dtype=np.int64)
        num_classes = len(lt.metainfo['class_counts'])
        split = held_out_indices(kept, labels, num_classes, per_class, seed)
        classes = [c for c in range(num_classes)
                   if c not in split['excluded']]
        if not classes:
            raise ValueError('the long-tailed construction kept every '
                             'training image: no held-out image to choose '
                             'tau on.')
        model_cfg = copy.deepcopy(cfg.model)
        if cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor',
                                 copy.deepcopy(cfg.data_preprocessor))
        model = MODELS.build(model_cfg)
    load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    fc = getattr(model.head, 'fc', None)
    if not isinstance(fc, torch.nn.Linear):
        raise ValueError('tau-normalisation needs a linear classifier '
                         f'head.fc; {type(model.head).__name__} has none.')
    subset = torch.utils.data.Subset(base, split['indices'].tolist())
    feats, val_labels = extract_features(model, subset, batch_size)
    bias = fc.bias.detach() if keep_bias and fc.bias is not None else None
    curve = tau_curve(feats, val_labels, fc.weight.detach(), bias, taus,
                      classes)
    best = int(np.argmax(curve))  # the first (smallest listed) of ties
    return dict(
        tau=taus[best], val_balanced_accuracy=curve[best], taus=taus,
        curve=curve, keep_bias=keep_bias,
        val_split=dict(
            source='training images the long-tailed construction left out '
            '(unseen by stage 1; not the test set)',
            per_class=split['per_class'], excluded_classes=split['excluded'],
            seed=seed, num_images=int(split['indices'].size)),
        config=cfg.filename, checkpoint=checkpoint)


def main(argv=None) -> int:
    from mmengine.config import Config, DictAction
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(
            ['--o', *args.cfg_options]).o)
    result = select_tau(cfg, args.checkpoint, args.per_class, args.seed,
                        args.taus, args.keep_bias, args.batch_size)
    atomic_json_dump(result, args.out, indent=2)
    print(f"tau = {result['tau']} (balanced accuracy "
          f"{100 * result['val_balanced_accuracy']:.2f}% on "
          f"{result['val_split']['num_images']} held-out training images; "
          f"classes without any: {result['val_split']['excluded_classes']})"
          f"\nwritten to {args.out}\ntest with:\n  python tools/test.py "
          f"{args.config} {args.checkpoint} --cfg-options "
          f"model.head.tau={result['tau']}"
          + (' model.head.keep_bias=True' if args.keep_bias else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
