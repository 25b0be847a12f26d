"""How should the background class of a detector enter GHM-CWAP?

MMDetection's softmax bbox heads classify each RoI into C foreground classes
plus a background class (index C, about 3/4 of the sampled RoIs). GHM-CWAP can
treat the background

- as an ordinary category (``background_index=None``): background is by far
  the most frequent class, so its examples get large negative margins on
  every foreground logit (Eq. 2) and stop pushing those logits down, or
- as excluded from the margins (``background_index=-1``): background examples
  get no margins and keep suppressing every foreground logit, as EQL and
  Seesaw keep background's suppression. Histograms and the intra-category
  weights (Eq. 1) treat the background as a class in both cases.

Training a detector to convergence does not fit a 2-core CPU, so this script
measures the choice on an RoI-classification proxy built from real images
(the handwritten digits that scikit-learn ships): a "RoI" is a 12 x 12 crop.
Foreground RoIs hold a digit shifted so that its box overlaps the RoI's by
IoU >= 0.5, background RoIs by 0.1 <= IoU < 0.5 (partial digits: mmdet's
MaxIoUAssigner thresholds) or hold nothing. Training foreground is
long-tailed (exponential profile, imbalance factor ``--imbalance``) with 3
background RoIs per foreground RoI (mmdet's RandomSampler, pos_fraction
0.25). The test set is balanced foreground plus 10 background RoIs per
foreground RoI (a detector's proposals are mostly background).

Reported, as a detector is judged: class-wise average precision of the
softmax score p_c ranked over all test RoIs (foreground and background, so
false positives on background count), averaged over all, the frequent half
and the rare half of the classes; foreground accuracy (argmax over the
foreground logits on foreground RoIs); and the rate of background RoIs
classified as foreground.

Usage:
    python tools/analysis/background_margin_ablation.py [--seeds 3] \
        [--epochs 40]
"""
import argparse
import time
from typing import Dict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.metrics import average_precision_score

from mmghm.models.losses import GHMCWAPLoss

NUM_FG = 10
BG = NUM_FG
CANVAS = 12


def place(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The 8 x 8 digit on a 12 x 12 canvas, shifted by (dx, dy) from the
    centre (parts falling outside are cut off)."""
    big = np.zeros((CANVAS + 16, CANVAS + 16), np.float32)
    y0, x0 = 8 + 2 + dy, 8 + 2 + dx
    big[y0:y0 + 8, x0:x0 + 8] = img
    return big[8:8 + CANVAS, 8:8 + CANVAS].reshape(-1)


def box_iou(dx: int, dy: int) -> float:
    """IoU of the 8 x 8 digit box with itself shifted by (dx, dy)."""
    inter = max(0, 8 - abs(dx)) * max(0, 8 - abs(dy))
    return inter / (128 - inter)


# RoI offsets by IoU with the object, as mmdet's MaxIoUAssigner splits them
# (pos_iou_thr = neg_iou_thr = 0.5): foreground >= 0.5, background < 0.5 but
# overlapping the object (partial digits: the hard negatives).
OFFSETS = [(dx, dy) for dx in range(-6, 7) for dy in range(-6, 7)]
FG_OFFSETS = [o for o in OFFSETS if box_iou(*o) >= 0.5]
BG_OFFSETS = [o for o in OFFSETS if 0.1 <= box_iou(*o) < 0.5]


def make_rois(images, labels, rng, num_bg_per_fg=3):
    """Per digit one foreground RoI and ``num_bg_per_fg`` background RoIs
    (partial overlaps, or 1 in 5 on empty background)."""
    xs, ys = [], []
    for img, lab in zip(images, labels):
        xs.append(place(img, *FG_OFFSETS[rng.integers(len(FG_OFFSETS))]))
        ys.append(lab)
        for _ in range(num_bg_per_fg):
            if rng.random() < 0.2:
                xs.append(np.zeros(CANVAS * CANVAS, np.float32))
            else:
                xs.append(
                    place(img, *BG_OFFSETS[rng.integers(len(BG_OFFSETS))]))
            ys.append(BG)
    x = torch.from_numpy(np.stack(xs)) / 16.0
    x = x + 0.05 * torch.from_numpy(rng.standard_normal(x.shape)).float()
    return x.float(), torch.tensor(ys)


def split(seed: int, imbalance: float):
    digits = load_digits()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(NUM_FG):
        idx = rng.permutation(np.flatnonzero(digits.target == c))
        n_test = len(idx) // 3
        test_idx += list(idx[:n_test])
        pool = idx[n_test:]
        n_max = 110
        keep = int(n_max * (1 / imbalance)**(c / (NUM_FG - 1)))
        train_idx += list(pool[:keep])
    img = digits.images
    tr = make_rois(img[train_idx], digits.target[train_idx], rng)
    # Test: many more background than foreground RoIs, as among a
    # detector's proposals.
    te = make_rois(img[test_idx], digits.target[test_idx], rng,
                   num_bg_per_fg=10)
    return tr, te


def train(loss_fn, tr, seed: int, epochs: int, batch: int = 64):
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(CANVAS * CANVAS, 256), nn.ReLU(), nn.Linear(256, 256),
        nn.ReLU(), nn.Linear(256, NUM_FG + 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                          weight_decay=5e-4)
    x, y = tr
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch):
            b = perm[i:i + batch]
            loss = loss_fn(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if isinstance(loss_fn, GHMCWAPLoss):
            loss_fn.update()  # AURA once per pass over the data
    return model


@torch.no_grad()
def evaluate(model, te, train_counts) -> Dict[str, float]:
    x, y = te
    logits = model(x)
    prob = logits.softmax(1).numpy()
    y = y.numpy()
    aps = np.array([
        average_precision_score(y == c, prob[:, c]) for c in range(NUM_FG)
    ])
    order = np.argsort(-train_counts)
    freq, rare = order[:NUM_FG // 2], order[NUM_FG // 2:]
    fg = y != BG
    fg_pred = logits[:, :NUM_FG].argmax(1).numpy()
    return dict(
        mAP=100 * aps.mean(),
        AP_frequent=100 * aps[freq].mean(),
        AP_rare=100 * aps[rare].mean(),
        fg_acc=100 * (fg_pred[fg] == y[fg]).mean(),
        bg_as_fg=100 * (logits.argmax(1).numpy()[~fg] != BG).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--imbalance', type=float, default=50.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    methods = {
        'cross-entropy': lambda: (lambda z, y: F.cross_entropy(z, y)),
        'GHM-CWAP, background as a class':
        lambda: GHMCWAPLoss(NUM_FG + 1),
        'GHM-CWAP, background_index=-1':
        lambda: GHMCWAPLoss(NUM_FG + 1, background_index=-1),
    }
    results = {name: [] for name in methods}
    start = time.time()
    for seed in range(args.seeds):
        tr, te = split(seed, args.imbalance)
        counts = np.bincount(tr[1].numpy(), minlength=NUM_FG + 1)[:NUM_FG]
        for name, make in methods.items():
            model = train(make(), tr, seed, args.epochs)
            results[name].append(evaluate(model, te, counts))
    print(f'train RoIs per class (seed {args.seeds - 1}): {counts.tolist()} '
          f'+ {int((tr[1] == BG).sum())} background; '
          f'{args.seeds} seeds x {args.epochs} epochs, '
          f'{time.time() - start:.0f} s\n')
    keys = list(next(iter(results.values()))[0])
    print('| method | ' + ' | '.join(keys) + ' |')
    print('|---' * (len(keys) + 1) + '|')
    for name, runs in results.items():
        cells = []
        for k in keys:
            v = np.array([r[k] for r in runs])
            cells.append(f'{v.mean():.1f} ± {v.std():.1f}')
        print(f'| {name} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
