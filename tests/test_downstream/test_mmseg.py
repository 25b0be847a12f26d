"""GHM-CWAP inside real MMSegmentation 1.x pipelines.

- Every segmentation config under configs/downstream/mmseg loads (inheriting
  ``mmseg::`` configs) and builds its segmentor with the loss in place.
- DeepLabV3 from our config, shrunk (ResNet-18-D8, narrow heads), trains on
  a small synthetic data set through MMSegmentation's dataset, pipeline,
  data preprocessor (which pads labels with 255) and the Runner, with the
  AURA hook by iteration: losses finite, exactly the labelled pixels of
  each class counted (never a pixel labelled 255, padded or not), state
  moved, finite, and saved in the checkpoint.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from downstream_helpers import (DOWNSTREAM_CONFIGS, LossSpy,
                                assert_histograms_sane,
                                require_downstream)

mmseg = require_downstream('mmseg')

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmghm  # noqa: E402,F401
from mmghm.engine.hooks import find_ghm_cwap_losses  # noqa: E402

SEG_CONFIGS = sorted((DOWNSTREAM_CONFIGS / 'mmseg').glob('*.py'))
CLASSES = ('road', 'car', 'person', 'rider')
IGNORE = 255


def build_segmentor(cfg):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('path', SEG_CONFIGS, ids=lambda p: p.stem)
def test_segmentation_configs_build(path):
    cfg = Config.fromfile(str(path))
    head = cfg.model.decode_head
    assert head.loss_decode.type == 'mmghm.GHMCWAPLoss'
    assert head.loss_decode.num_classes == head.num_classes
    assert head.loss_decode.ignore_index == 255 == head.get(
        'ignore_index', 255)
    assert 'use_sigmoid' not in head.loss_decode
    hooks = [h for h in cfg.custom_hooks if h.type == 'mmghm.AURAHook']
    assert len(hooks) == 1 and hooks[0].by_epoch is False
    # every checkpoint follows an update: it holds synced histograms
    assert cfg.default_hooks.checkpoint.interval % hooks[0].interval == 0
    model = build_segmentor(cfg)
    (loss, ) = find_ghm_cwap_losses(model)
    assert model.decode_head.loss_decode is loss
    assert loss.num_classes == head.num_classes
    assert loss.loss_name == 'loss_ghm_cwap'


def write_seg_data(root: Path, num_images: int = 6, h: int = 48,
                   w: int = 56) -> np.ndarray:
    """Images and label maps with long-tailed classes and an ignored (255)
    band; returns the per-class labelled pixel counts of all maps."""
    import mmcv
    rng = np.random.default_rng(0)
    (root / 'img').mkdir(parents=True)
    (root / 'ann').mkdir(parents=True)
    totals = np.zeros(len(CLASSES), np.int64)
    for i in range(num_images):
        label = np.zeros((h, w), np.uint8)  # 'road' everywhere
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 24)
        label[y:y + 16, x:x + 20] = 1
        y, x = rng.integers(0, h - 10), rng.integers(0, w - 6)
        label[y:y + 8, x:x + 4] = 2
        label[rng.integers(0, h - 3), rng.integers(0, w - 3)] = 3
        label[:, :rng.integers(2, 6)] = IGNORE  # e.g. the ego vehicle
        img = (label[..., None].astype(np.int64) * 40 % 256).astype(
            np.uint8).repeat(3, 2)
        img = img + rng.integers(0, 30, img.shape, dtype=np.uint8)
        mmcv.imwrite(img, str(root / 'img' / f'{i}.png'))
        mmcv.imwrite(label, str(root / 'ann' / f'{i}.png'))
        keep = label != IGNORE
        totals += np.bincount(label[keep], minlength=len(CLASSES))
    return totals


def tiny_deeplab_cfg(tmp_path: Path, interval: int, iters: int) -> Config:
    cfg = Config.fromfile(
        str(DOWNSTREAM_CONFIGS / 'mmseg' /
            'deeplabv3_r50-d8_ghm-cwap_4xb2-80k_cityscapes-512x1024.py'))
    C = len(CLASSES)
    model = cfg.model
    model.pretrained = None
    model.backbone.depth = 18
    model.backbone.init_cfg = None
    model.decode_head.update(in_channels=512, channels=16, num_classes=C)
    model.decode_head.loss_decode.num_classes = C
    model.auxiliary_head.update(in_channels=256, channels=16, num_classes=C)
    # Images are 48 x 56: the preprocessor pads them (labels with 255).
    model.data_preprocessor.size = (64, 64)
    cfg.train_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        sampler=dict(type='InfiniteSampler', shuffle=True),
        dataset=dict(
            type='BaseSegDataset', data_root=str(tmp_path / 'data'),
            data_prefix=dict(img_path='img', seg_map_path='ann'),
            img_suffix='.png', seg_map_suffix='.png',
            metainfo=dict(classes=CLASSES,
                          palette=[[0, 0, 0]] * len(CLASSES)),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')
            ]))
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'] = None
        cfg[f'{split}_cfg'] = None
        cfg[f'{split}_evaluator'] = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=1000)
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [
        dict(type='mmghm.AURAHook', by_epoch=False, interval=interval)
    ]
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    return cfg


def test_deeplabv3_trains_with_ghm_cwap_and_aura(tmp_path):
    # 6 images, batch 2, 6 iterations: every image is seen exactly twice
    # (the infinite sampler walks two full permutations).
    interval, iters, num_images = 2, 6, 6
    totals = write_seg_data(tmp_path / 'data', num_images)
    cfg = tiny_deeplab_cfg(tmp_path, interval, iters)
    runner = Runner.from_cfg(cfg)
    (loss, ) = find_ghm_cwap_losses(runner.model)
    spy = LossSpy(loss)
    runner.train()

    assert runner.iter == iters
    assert int(loss.num_updates) == iters // interval
    for key in ('decode.loss_ghm_cwap', 'aux.loss_ce', 'loss'):
        history = runner.message_hub.get_scalar(f'train/{key}').data[0]
        assert len(history) == iters and np.isfinite(history).all(), key

    # Per interval: what MMSegmentation passed, minus ignored pixels.
    counted = spy.counted_per_interval()
    expected = spy.expected_per_interval()
    for got, want in zip(counted, expected):
        torch.testing.assert_close(got.sum(1), want, rtol=1e-6, atol=1e-2)
    # Over the run, independently of the spy: each labelled pixel of each
    # image twice, and not one of the 255 pixels (the ignored band and the
    # padding to 64 x 64).
    total = torch.stack(counted).sum(0).sum(1)
    torch.testing.assert_close(
        total, torch.from_numpy(2 * totals).double(), rtol=1e-6, atol=1e-2)
    n_labels = sum(c['label'].numel() for c in spy.calls)
    assert n_labels == 2 * num_images * 64 * 64 > total.sum()

    assert_histograms_sane(loss)
    assert (loss.ref_density.sum(1) > 0).all()  # every class was seen
    uniform = torch.linspace(0, 1, loss.num_bins + 1)
    assert not torch.allclose(loss.edges[0], uniform)  # AURA re-binned
    ckpt = torch.load(Path(cfg.work_dir) / f'iter_{iters}.pth',
                      map_location='cpu', weights_only=False)
    prefix = 'decode_head.loss_decode.'
    for name in ('edges', 'density', 'ref_density', 'num_updates'):
        assert torch.equal(ckpt['state_dict'][prefix + name],
                           getattr(loss, name)), name


def test_decode_head_loss_matches_cross_entropy_without_balancing():
    """With intra, inter off, GHM-CWAP in a decode head is MMSegmentation's
    cross-entropy averaged over the non-ignored pixels (its
    ``avg_non_ignore=True``), ignored pixels included in the call."""
    from mmseg.models.decode_heads import FCNHead
    from mmseg.models.losses import CrossEntropyLoss
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    C = 3
    head = FCNHead(
        in_channels=4, channels=4, num_convs=1, num_classes=C,
        loss_decode=dict(type='mmghm.GHMCWAPLoss', num_classes=C,
                         intra=False, inter=False, loss_name='loss_plain'))
    gen = torch.Generator().manual_seed(0)
    seg_logits = torch.randn(2, C, 8, 8, generator=gen)
    labels = torch.randint(0, C, (2, 1, 8, 8), generator=gen)
    labels[0, 0, :3] = IGNORE
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=labels[i])
        samples.append(s)
    out = head.loss_by_feat(seg_logits, samples)
    ce = CrossEntropyLoss(avg_non_ignore=True)(
        seg_logits, labels.squeeze(1), ignore_index=IGNORE)
    torch.testing.assert_close(out['loss_plain'], ce)
    n_kept = int((labels != IGNORE).sum())
    assert head.loss_decode.density.sum().item() == pytest.approx(n_kept)


def _train_log(cfg):
    import glob
    import os.path as osp

    # Its own logger: two Runners started within one second would share
    # MMEngine's logger instance (named by the timestamp) and its file.
    cfg.experiment_name = '-'.join(cfg.work_dir.split(osp.sep)[-2:])
    runner = Runner.from_cfg(cfg)
    runner.train()
    (log, ) = glob.glob(f'{runner.log_dir}/*.log')
    with open(log, encoding='utf-8') as f:
        return runner, f.read()


def test_deeplabv3_without_aura_hook_logs_the_entry_to_add(tmp_path):
    """A host config that lists the loss but not mmghm's AURAHook trains
    with a warning naming the custom_hooks entry; with the hook, none."""
    write_seg_data(tmp_path / 'data', 4)
    cfg = tiny_deeplab_cfg(tmp_path, interval=2, iters=2)
    cfg.custom_hooks = []
    cfg.work_dir = str(tmp_path / 'without')
    runner, log = _train_log(cfg)
    assert log.count('GHMCWAPLoss is training without mmghm.AURAHook') == 1
    assert "Add dict(type='mmghm.AURAHook')" in log
    (loss, ) = find_ghm_cwap_losses(runner.model)
    assert int(loss.num_updates) == 0
    cfg = tiny_deeplab_cfg(tmp_path, interval=2, iters=2)
    cfg.work_dir = str(tmp_path / 'with')
    runner, log = _train_log(cfg)
    assert 'is training without' not in log
    (loss, ) = find_ghm_cwap_losses(runner.model)
    assert int(loss.num_updates) == 1
