"""ClassCountsHook in real Runners: train -> checkpoint -> test, wrappers,
DDP broadcast, errors. Data: scikit-learn's real digits, long-tailed."""
import copy
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.runner import Runner

from mmghm.datasets import long_tailed_counts
from mmghm.engine.hooks.class_counts_hook import (CHECKPOINT_KEY,
                                                  broadcast_from_main)
from mmghm.evaluation.metrics import GroupAccuracy

REPO = Path(__file__).resolve().parents[2]
# SklearnDigits train split: the smallest class has 140 images.
LT_COUNTS = long_tailed_counts(10, 140, 10)  # [140, 108, ..., 14]
PIPELINE = [dict(type='Resize', scale=(16, 16)), dict(type='PackInputs')]
LT_TRAIN = dict(
    type='mmghm.LongTailedDataset',
    imbalance_factor=10,
    dataset=dict(type='mmghm.SklearnDigits', split='train',
                 pipeline=PIPELINE))


def loader(dataset, shuffle):
    return dict(batch_size=64, num_workers=0, dataset=dataset,
                sampler=dict(type='DefaultSampler', shuffle=shuffle))


def base_cfg(work_dir, num_classes=10):
    return dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['mmghm'], allow_failed_imports=False),
        work_dir=str(work_dir),
        model=dict(
            type='ImageClassifier',
            # digits: pixel mean ~ 78, std ~ 96 (of 0..255)
            data_preprocessor=dict(mean=[78.0] * 3, std=[96.0] * 3),
            backbone=dict(type='mmghm.CifarResNet', depth=20),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=num_classes,
                      in_channels=64,
                      loss=dict(type='mmghm.ClassBalancedLoss',
                                num_classes=num_classes))),
        custom_hooks=[dict(type='mmghm.ClassCountsHook')],
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING',
        randomness=dict(seed=0))


def make_train_cfg(work_dir, dataset=LT_TRAIN, num_classes=10):
    cfg = base_cfg(work_dir, num_classes)
    cfg.update(
        train_dataloader=loader(dataset, True),
        train_cfg=dict(by_epoch=True, max_epochs=2, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9)),
        val_dataloader=loader(
            dict(type='mmghm.SklearnDigits', split='test',
                 pipeline=PIPELINE), False),
        val_cfg=dict(),
        val_evaluator=dict(type='mmghm.GroupAccuracy', mode='quantile',
                           out_file='val_per_class.json'))
    return cfg


def make_test_cfg(work_dir, ckpt, with_train=False, **hook_kwargs):
    cfg = base_cfg(work_dir)
    cfg.update(
        load_from=str(ckpt),
        test_dataloader=loader(
            dict(type='mmghm.SklearnDigits', split='test',
                 pipeline=PIPELINE), False),
        test_cfg=dict(),
        test_evaluator=[
            dict(type='Accuracy', topk=1),
            dict(type='mmghm.GroupAccuracy', mode='four')
        ],
        custom_hooks=[dict(type='mmghm.ClassCountsHook', **hook_kwargs)])
    if with_train:  # a full config, as tools/test.py gets: test builds no
        train = make_train_cfg(work_dir)  # train set
        for key in ('train_dataloader', 'train_cfg', 'optim_wrapper'):
            cfg[key] = train[key]
    return cfg


def run(cfg, mode):
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    metrics = getattr(runner, mode)()
    return runner, metrics


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two epochs on digits-LT through a ClassBalancedDataset oversampler."""
    work_dir = tmp_path_factory.mktemp('train')
    dataset = dict(type='ClassBalancedDataset', oversample_thr=0.05,
                   dataset=LT_TRAIN)
    runner, _ = run(make_train_cfg(work_dir, dataset), 'train')
    return runner, work_dir


def test_training_gets_distinct_image_counts(trained):
    runner, work_dir = trained
    # The oversampler repeats tail images; counts are of distinct images.
    assert len(runner.train_dataloader.dataset) > sum(LT_COUNTS)
    loss = runner.model.head.loss_module
    assert loss.has_counts
    assert loss.class_counts.tolist() == LT_COUNTS
    metric = runner.val_evaluator.metrics[0]
    assert metric.class_counts.tolist() == LT_COUNTS
    # Validation ran with the counts and logged readable scalar keys.
    scalars = runner.message_hub.log_scalars
    for key in ('top1', 'mean_class', 'many', 'medium', 'few'):
        assert f'val/group_accuracy/{key}' in scalars
    assert (work_dir / 'val_per_class.json').is_file()
    ckpt = torch.load(work_dir / 'epoch_2.pth', map_location='cpu',
                      weights_only=False)
    assert ckpt['meta'][CHECKPOINT_KEY] == LT_COUNTS


def test_test_reads_counts_from_checkpoint(trained, tmp_path):
    _, work_dir = trained
    runner, metrics = run(make_test_cfg(tmp_path, work_dir / 'epoch_2.pth'),
                          'test')
    group_metric = runner.test_evaluator.metrics[1]
    assert group_metric.class_counts.tolist() == LT_COUNTS
    assert runner.model.head.loss_module.class_counts.tolist() == LT_COUNTS
    # Same predictions, two metrics: overall top-1 must agree.
    assert metrics['group_accuracy/top1'] == pytest.approx(
        float(metrics['accuracy/top1']))
    res = group_metric.last_result
    expected = GroupAccuracy.calculate(
        [0], [0], LT_COUNTS, mode='four')['group_of_class']
    assert res['group_of_class'].tolist() == expected.tolist()
    # 140..14 images: Many {0, 1}, Medium {2..7}, Few {8, 9}; no Rare.
    assert expected.tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]
    assert set(metrics) >= {'group_accuracy/many', 'group_accuracy/rare'}


def _strip_counts(src, dst):
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    del ckpt['meta'][CHECKPOINT_KEY]
    torch.save(ckpt, dst)


def test_test_without_counts_counts_the_config_train_set(trained, tmp_path):
    _, work_dir = trained
    ckpt = tmp_path / 'no_counts.pth'
    _strip_counts(work_dir / 'epoch_2.pth', ckpt)
    runner, _ = run(make_test_cfg(tmp_path, ckpt, with_train=True), 'test')
    assert runner.test_evaluator.metrics[1].class_counts.tolist() == \
        LT_COUNTS
    with pytest.raises(RuntimeError, match='needs the per-class training '
                       'counts'):
        run(make_test_cfg(tmp_path, ckpt, with_train=True,
                          count_train_set_on_test=False), 'test')


def test_class_number_mismatch_names_the_module(tmp_path):
    cfg = make_train_cfg(tmp_path, num_classes=12)
    cfg['train_cfg']['max_epochs'] = 1
    with pytest.raises(ValueError, match='LongTailedDataset of SklearnDigits '
                       'has 10 classes '
                       r'but model.head \(LinearClsHead\) predicts 12'):
        run(cfg, 'train')


def test_counts_that_do_not_fit_a_loss_name_it():
    """A loss whose num_classes differs from its head's (a config slip) is
    named by the loss's own check."""
    from mmghm.engine.hooks.class_counts_hook import ClassCountsHook
    import types
    import torch.nn as nn
    from mmghm.models.losses import ClassBalancedLoss
    model = nn.Module()
    model.loss = ClassBalancedLoss(num_classes=7)
    runner = types.SimpleNamespace(model=model, work_dir='.')
    hook = ClassCountsHook()
    hook.class_counts = [5] * 6
    with pytest.raises(ValueError, match='6 classes, which does not fit '
                       'ClassBalancedLoss at model.loss'):
        hook._apply(runner, [], with_model=True)


def _write_class_folders(root, classes, per_class=2):
    import cv2
    import numpy as np
    rng = np.random.RandomState(0)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            img = rng.randint(0, 255, (8, 8, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f'{i}.png'), img)


@pytest.mark.parametrize('loss', [
    dict(type='mmghm.GHMCWAPLoss', num_classes=10),
    dict(type='CrossEntropyLoss'),
])
def test_a_missing_class_folder_stops_before_training(tmp_path, loss):
    """9 class folders for a 10-class model: caught in before_train, with the
    data set, both numbers and the fix, before a single step (issue 11)."""
    data = tmp_path / 'train'
    _write_class_folders(data, [f'class_{c}' for c in range(10) if c != 3])
    cfg = make_train_cfg(
        tmp_path,
        dataset=dict(type='CustomDataset', data_prefix=str(data),
                     pipeline=PIPELINE))
    cfg['model']['head']['loss'] = loss
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    with pytest.raises(ValueError) as info:
        runner.train()
    message = str(info.value)
    assert f"CustomDataset (data_prefix='{data}')" in message
    assert 'has 9 classes but model.head (LinearClsHead) predicts 10' in \
        message
    assert "add the missing class's folder" in message
    assert 'set num_classes=9' in message
    assert runner.iter == 0  # no training step ran


def _dist_worker(rank, init_method, out_dir):
    torch_dist.init_process_group(
        'gloo', init_method=init_method, rank=rank, world_size=2,
        timeout=datetime.timedelta(seconds=120))
    try:
        # Each rank would count differently; all must get rank 0's counts.
        got = broadcast_from_main(lambda: [rank + 1] * 3)
        try:
            broadcast_from_main(lambda: 1 / 0)
            err = 'no error'
        except Exception as e:  # noqa: BLE001
            err = f'{type(e).__name__}: {e}'
        with open(os.path.join(out_dir, f'rank{rank}.txt'), 'w') as f:
            f.write(f'{got}\n{err}\n')
    finally:
        torch_dist.destroy_process_group()


def test_broadcast_from_rank0_under_ddp(tmp_path, dist_init_method):
    mp.spawn(_dist_worker, args=(dist_init_method, str(tmp_path)), nprocs=2,
             join=True)
    rank0 = (tmp_path / 'rank0.txt').read_text().splitlines()
    rank1 = (tmp_path / 'rank1.txt').read_text().splitlines()
    assert rank0[0] == rank1[0] == '[1, 1, 1]'
    assert rank0[1] == 'ZeroDivisionError: division by zero'
    assert rank1[1] == ('RuntimeError: rank 0 failed: ZeroDivisionError: '
                        'division by zero')


def test_tools_test_py_end_to_end(trained, tmp_path):
    """tools/test.py (no train set built) groups by the checkpoint's counts
    and writes the per-class JSON into its work dir."""
    _, train_dir = trained
    cfg = make_test_cfg(tmp_path, train_dir / 'epoch_2.pth', with_train=True)
    cfg['test_evaluator'][1]['out_file'] = 'test_per_class.json'
    del cfg['load_from'], cfg['work_dir']
    Config(cfg).dump(str(tmp_path / 'cfg.py'))
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'test.py'),
         str(tmp_path / 'cfg.py'), str(train_dir / 'epoch_2.pth'),
         '--work-dir', str(work_dir), '--out-item', 'metrics', '--out',
         str(tmp_path / 'metrics.json')],
        capture_output=True, text=True, cwd=str(REPO), timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / 'metrics.json').read_text())
    assert metrics['group_accuracy/top1'] == pytest.approx(
        metrics['accuracy/top1'])
    per_class = json.loads((work_dir / 'test_per_class.json').read_text())
    assert per_class['class_counts'] == LT_COUNTS
    assert per_class['group_names'] == ['many', 'medium', 'few', 'rare']
    assert per_class['classes'] == list('0123456789')
