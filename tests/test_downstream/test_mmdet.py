"""GHM-CWAP inside real MMDetection 3.x pipelines.

- Every detection config under configs/downstream/mmdet loads (inheriting
  ``mmdet::`` configs) and builds its detector with the loss in place.
- Faster R-CNN from our config, shrunk (ResNet-18, narrow FPN) and fed a
  small synthetic COCO-format data set through MMDetection's own dataset,
  pipeline and Runner, trains several iterations on the CPU with the AURA
  hook in iteration mode: losses finite, every sampled RoI (background
  included) counted exactly once into its class's histogram, histograms
  moved, finite, and saved in the checkpoint.
- Sigmoid heads (RetinaNet, FCOS, YOLOX) refuse GHM-CWAP with a clear error.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from downstream_helpers import (DOWNSTREAM_CONFIGS, LossSpy,
                                assert_histograms_sane,
                                require_downstream)

mmdet = require_downstream('mmdet')

from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmghm  # noqa: E402,F401
from mmghm.engine.hooks import find_ghm_cwap_losses  # noqa: E402
from mmghm.models.losses import GHMCWAPLoss  # noqa: E402

DET_CONFIGS = sorted((DOWNSTREAM_CONFIGS / 'mmdet').glob('*.py'))
CLASSES = ('head', 'body', 'mid', 'tail', 'rare')


def build_detector(cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('path', DET_CONFIGS, ids=lambda p: p.stem)
def test_detection_configs_build(path):
    cfg = Config.fromfile(str(path))
    bbox_head = cfg.model.roi_head.bbox_head
    loss_cfg = bbox_head.loss_cls
    # The softmax head has C + 1 logits: the loss must be built for them,
    # and nothing of the replaced loss (Seesaw's p, q) may survive.
    assert loss_cfg.type == 'mmghm.GHMCWAPLoss'
    assert loss_cfg.num_classes == bbox_head.num_classes + 1
    assert not {'p', 'q', 'use_sigmoid'} & set(loss_cfg)
    hooks = [h for h in cfg.custom_hooks if h.type == 'mmghm.AURAHook']
    assert len(hooks) == 1 and hooks[0].by_epoch is False
    model = build_detector(cfg)
    losses = find_ghm_cwap_losses(model)
    assert len(losses) == 1
    loss = losses[0]
    assert model.roi_head.bbox_head.loss_cls is loss
    assert loss.num_classes == bbox_head.num_classes + 1
    assert loss.background_index == bbox_head.num_classes
    # Plain C + 1 softmax: no custom channels, activation or accuracy.
    assert not model.roi_head.bbox_head.custom_cls_channels
    assert model.roi_head.bbox_head.fc_cls.out_features == \
        bbox_head.num_classes + 1


def write_coco(root: Path, num_images: int = 12, size: int = 96):
    """A tiny long-tailed COCO-format data set: bright rectangles on noise,
    class c drawn with probability falling with c."""
    import mmcv
    rng = np.random.default_rng(0)
    (root / 'img').mkdir(parents=True)
    images, anns = [], []
    freq = np.array([0.45, 0.25, 0.15, 0.1, 0.05])
    for i in range(num_images):
        img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
        for _ in range(rng.integers(1, 4)):
            c = int(rng.choice(len(CLASSES), p=freq))
            w, h = rng.integers(16, 48, size=2)
            x, y = rng.integers(0, size - w), rng.integers(0, size - h)
            img[y:y + h, x:x + w] = 80 + 35 * c
            anns.append(dict(id=len(anns) + 1, image_id=i + 1,
                             category_id=c + 1, iscrowd=0,
                             bbox=[int(x), int(y), int(w), int(h)],
                             area=int(w * h)))
        name = f'{i:03d}.png'
        mmcv.imwrite(img, str(root / 'img' / name))
        images.append(dict(id=i + 1, file_name=name, width=size,
                           height=size))
    cats = [dict(id=c + 1, name=n) for c, n in enumerate(CLASSES)]
    (root / 'ann.json').write_text(
        json.dumps(dict(images=images, annotations=anns, categories=cats)))


def tiny_faster_rcnn_cfg(tmp_path: Path, interval: int) -> Config:
    cfg = Config.fromfile(
        str(DOWNSTREAM_CONFIGS / 'mmdet' /
            'faster-rcnn_r50_fpn_ghm-cwap_1x_coco.py'))
    C, width = len(CLASSES), 16
    model = cfg.model
    model.backbone = dict(
        type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
        frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False, style='pytorch', init_cfg=None)
    model.neck.in_channels = [64, 128, 256, 512]
    model.neck.out_channels = width
    model.rpn_head.in_channels = model.rpn_head.feat_channels = width
    model.roi_head.bbox_roi_extractor.out_channels = width
    head = model.roi_head.bbox_head
    head.in_channels, head.fc_out_channels = width, 32
    head.num_classes = C
    head.loss_cls.num_classes = C + 1

    write_coco(tmp_path / 'data')
    cfg.train_dataloader = dict(
        batch_size=2, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dict(
            type='CocoDataset', data_root=str(tmp_path / 'data'),
            ann_file='ann.json', data_prefix=dict(img='img/'),
            metainfo=dict(classes=CLASSES),
            filter_cfg=dict(filter_empty_gt=True, min_size=0),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(96, 96), keep_ratio=True),
                dict(type='RandomFlip', prob=0.5),
                dict(type='PackDetInputs')
            ]))
    for split in ('val', 'test'):
        cfg[f'{split}_dataloader'] = None
        cfg[f'{split}_cfg'] = None
        cfg[f'{split}_evaluator'] = None
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1,
                         val_interval=100)
    cfg.optim_wrapper.optimizer.lr = 0.01
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [
        dict(type='mmghm.AURAHook', by_epoch=False, interval=interval)
    ]
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    return cfg


def test_faster_rcnn_trains_with_ghm_cwap_and_aura(tmp_path):
    interval, iters = 2, 6  # 12 images, batch 2
    cfg = tiny_faster_rcnn_cfg(tmp_path, interval)
    runner = Runner.from_cfg(cfg)
    (loss, ) = find_ghm_cwap_losses(runner.model)
    C = len(CLASSES)
    assert loss.num_classes == C + 1 and loss.background_index == C
    spy = LossSpy(loss)
    runner.train()

    assert runner.iter == iters
    assert int(loss.num_updates) == iters // interval
    # every training loss the Runner logged is finite
    for key in ('loss_cls', 'loss_bbox', 'loss_rpn_cls', 'loss'):
        history = runner.message_hub.get_scalar(f'train/{key}').data[0]
        assert len(history) == iters and np.isfinite(history).all(), key

    # Exactly the RoIs MMDetection's sampler passed (label weight > 0),
    # background (label C) included, entered the histograms of each
    # interval, under their own class.
    counted = spy.counted_per_interval()
    expected = spy.expected_per_interval()
    assert len(counted) == iters // interval
    for got, want in zip(counted, expected):
        torch.testing.assert_close(got.sum(1), want, rtol=1e-5, atol=1e-3)
        assert want[C] == want.max() and want[C] > want[:C].sum()
    # State moved (reference histograms filled, AURA re-binned the
    # background), stays finite, and the last update emptied the running
    # density before the epoch-end checkpoint.
    assert_histograms_sane(loss)
    assert (loss.ref_density[C] > 0).any()
    uniform = torch.linspace(0, 1, loss.num_bins + 1)
    assert not torch.allclose(loss.edges[C], uniform)
    assert loss.density.sum() == 0
    ckpt = torch.load(Path(cfg.work_dir) / 'epoch_1.pth',
                      map_location='cpu', weights_only=False)
    prefix = 'roi_head.bbox_head.loss_cls.'
    for name in ('edges', 'density', 'ref_density', 'num_updates'):
        assert torch.equal(ckpt['state_dict'][prefix + name],
                           getattr(loss, name)), name


def write_user_config(tmp_path: Path, base: str, loss_cls: str) -> Config:
    path = tmp_path / 'user_cfg.py'
    path.write_text(f"_base_ = '{base}'\n"
                    "custom_imports = dict(imports=['mmghm'])\n"
                    f'model = dict(bbox_head=dict(loss_cls={loss_cls}))\n')
    return Config.fromfile(str(path))


@pytest.mark.parametrize('base', [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py',
])
def test_sigmoid_heads_refuse_ghm_cwap(tmp_path, base):
    """A user config that swaps the loss of a sigmoid head inherits the
    head's ``use_sigmoid=True`` (and the focal loss's gamma/alpha): the
    build fails naming the reason instead of training a wrong model."""
    cfg = write_user_config(
        tmp_path, base, "dict(type='mmghm.GHMCWAPLoss', num_classes=81)")
    assert cfg.model.bbox_head.loss_cls.use_sigmoid is True
    with pytest.raises(ValueError, match='use_sigmoid=True'):
        build_detector(cfg)


def test_yolox_soft_targets_are_refused(tmp_path):
    """With ``_delete_=True`` nothing says "sigmoid" any more, but YOLOX
    passes IoU-aware soft (N, C) targets: refused when the loss runs,
    before any histogram changes."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    cfg = write_user_config(
        tmp_path, 'mmdet::yolox/yolox_tiny_8xb8-300e_coco.py',
        "dict(_delete_=True, type='mmghm.GHMCWAPLoss', num_classes=80)")
    model = build_detector(cfg)
    (loss, ) = find_ghm_cwap_losses(model)
    model.train()
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64),
                                         ori_shape=(64, 64),
                                         pad_shape=(64, 64),
                                         scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[4.0, 6.0, 44.0, 50.0]]),
        labels=torch.tensor([3]))
    torch.manual_seed(0)
    with pytest.raises(ValueError, match='soft targets'):
        model.loss(torch.rand(1, 3, 64, 64) * 255, [sample])
    assert loss.density.sum() == 0 and int(loss.num_updates) == 0


def test_bbox_head_call_matches_loss_on_its_own():
    """The bbox head's own ``loss`` (label weights, avg_factor) gives the
    loss computed directly with the same inputs: nothing of MMDetection's
    call is lost on the way (weights of 0 not counted, not weighted)."""
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    C = 4
    head = Shared2FCBBoxHead(
        in_channels=4, fc_out_channels=8, roi_feat_size=2, num_classes=C,
        loss_cls=dict(type='mmghm.GHMCWAPLoss', num_classes=C + 1,
                      background_index=-1, num_bins=5))
    twin = GHMCWAPLoss(C + 1, num_bins=5, background_index=-1)
    gen = torch.Generator().manual_seed(0)
    for step in range(3):
        cls_score = torch.randn(40, C + 1, generator=gen)
        labels = torch.randint(0, C + 1, (40, ), generator=gen)
        weights = (torch.rand(40, generator=gen) > 0.2).float()
        out = head.loss(cls_score, None, None, labels, weights, None, None)
        avg = max(float((weights > 0).sum()), 1.0)
        expected = twin(cls_score, labels, weights, avg_factor=avg)
        torch.testing.assert_close(out['loss_cls'], expected)
        torch.testing.assert_close(head.loss_cls.density, twin.density)
        head.loss_cls.update()
        twin.update()
    n_counted = head.loss_cls.ref_density.sum()
    assert n_counted > 0


def retinanet_loss(model):
    """RetinaNet's losses on one synthetic 64 x 64 image."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    model.train()
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64),
                                         ori_shape=(64, 64),
                                         pad_shape=(64, 64),
                                         batch_input_shape=(64, 64),
                                         scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[4.0, 6.0, 44.0, 50.0]]),
        labels=torch.tensor([3]))
    torch.manual_seed(0)
    return model.loss(torch.rand(1, 3, 64, 64) * 255, [sample])


def test_dense_head_without_use_sigmoid_is_a_softmax_head(tmp_path):
    """With ``_delete_=True`` MMDetection reads no ``use_sigmoid`` and makes
    RetinaNet's head a softmax head with C + 1 logits. Built for C classes,
    the loss refuses the extra (background) logit; built for C + 1 it is a
    softmax detector like SSD and trains."""
    base = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
    cfg = write_user_config(
        tmp_path, base,
        "dict(_delete_=True, type='mmghm.GHMCWAPLoss', num_classes=80)")
    model = build_detector(cfg)
    assert model.bbox_head.cls_out_channels == 81
    with pytest.raises(ValueError, match='81 classes'):
        retinanet_loss(model)
    cfg = write_user_config(
        tmp_path, base, "dict(_delete_=True, type='mmghm.GHMCWAPLoss', "
        'num_classes=81, background_index=-1)')
    model = build_detector(cfg)
    losses = retinanet_loss(model)
    assert all(torch.isfinite(v).all() for v in losses['loss_cls'])
    (loss, ) = find_ghm_cwap_losses(model)
    assert loss.density[80].sum() > 0  # background anchors were counted
