"""RunSummaryHook in a real Runner: the summary names every output, and
the pictures of the main job are drawn."""
import copy
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from PIL import Image

from mmghm.engine.hooks.run_summary_hook import RunSummaryHook

PIPELINE = [dict(type='Resize', scale=(16, 16)), dict(type='PackInputs')]


def _loader(dataset, shuffle):
    return dict(batch_size=96, num_workers=0, dataset=dataset,
                sampler=dict(type='DefaultSampler', shuffle=shuffle))


def _train(work_dir, loss, hooks, epochs=3, out_file='per_class.json'):
    cfg = dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['mmghm'], allow_failed_imports=False),
        work_dir=str(work_dir),
        experiment_name=f'summary-{osp.basename(work_dir)}',
        model=dict(
            type='ImageClassifier',
            data_preprocessor=dict(mean=[78.0] * 3, std=[96.0] * 3),
            backbone=dict(type='mmghm.CifarResNet', depth=20),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                      loss=loss)),
        train_dataloader=_loader(
            dict(type='mmghm.LongTailedDataset', imbalance_factor=10,
                 dataset=dict(type='mmghm.SklearnDigits', split='train',
                              pipeline=PIPELINE)), True),
        train_cfg=dict(by_epoch=True, max_epochs=epochs, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9)),
        val_dataloader=_loader(
            dict(type='mmghm.SklearnDigits', split='test',
                 pipeline=PIPELINE), False),
        val_cfg=dict(),
        val_evaluator=dict(type='mmghm.GroupAccuracy', mode='quantile',
                           out_file=out_file),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            max_keep_ckpts=2),
            summary=dict(type='mmghm.RunSummaryHook')),
        custom_hooks=[dict(type='mmghm.ClassCountsHook')] + hooks,
        log_level='INFO',
        randomness=dict(seed=0))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
        runner.train()
    return runner


@pytest.fixture(scope='module')
def ghm_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('ghm')
    runner = _train(work_dir, dict(type='mmghm.GHMCWAPLoss',
                                   num_classes=10),
                    [dict(type='mmghm.AURAHook'),
                     dict(type='mmghm.GradHistVisHook')])
    return work_dir, runner


def _not_blank(path):
    img = np.asarray(Image.open(path).convert('RGB'))
    return len(np.unique(img.reshape(-1, 3), axis=0)) > 50


def test_summary_names_every_output(ghm_run):
    work_dir, runner = ghm_run
    (summary_file, ) = work_dir.glob('*/summary.json')
    summary = json.loads(summary_file.read_text())
    log_dir = summary_file.parent
    ts = log_dir.name
    # The last checkpoint, and the two that max_keep_ckpts=2 keeps.
    ck = summary['checkpoints']
    assert ck['last'] == str(work_dir / 'epoch_3.pth')
    assert ck['keep'] == 2 and ck['best'] is None
    assert [osp.basename(p) for p in ck['kept']] == ['epoch_2.pth',
                                                     'epoch_3.pth']
    files = summary['files']
    assert files['log'] == str(log_dir / f'{ts}.log')
    assert files['scalars'] == str(log_dir / 'vis_data' / 'scalars.json')
    assert files['per_class'] == str(work_dir / 'per_class.json')
    assert files['grad_hist'] == str(work_dir / 'grad_hist')
    for key in ('log', 'scalars', 'config', 'per_class', 'grad_hist'):
        assert osp.exists(files[key]), key
    # The final metrics are the last validation's, as scalars.json has them.
    lines = [json.loads(line) for line in
             open(files['scalars'], encoding='utf-8')]
    last_val = [r for r in lines if 'group_accuracy/top1' in r][-1]
    assert summary['metrics_at'] == 'epoch 3'
    for key, value in summary['metrics'].items():
        assert last_val[key] == pytest.approx(value), key
    assert summary['device'].startswith('cpu: ')
    assert summary['wall_s'] > 0


def test_main_job_pictures_are_drawn_and_logged(ghm_run):
    work_dir, _ = ghm_run
    (summary_file, ) = work_dir.glob('*/summary.json')
    pictures = json.loads(summary_file.read_text())['pictures']
    assert pictures == {
        'fig2': str(work_dir / 'fig2_grad_norm.png'),
        'class_accuracy': str(work_dir / 'class_accuracy.png')}
    assert all(_not_blank(p) for p in pictures.values())
    log = (summary_file.parent / f'{summary_file.parent.name}.log'
           ).read_text()
    assert 'Run summary (work dir' in log
    assert f"picture, the paper's Fig. 2: {pictures['fig2']}" in log
    assert 'only the last 2 are kept: epoch_2.pth, epoch_3.pth' in log


def test_without_histograms_or_per_class_file_nothing_is_drawn(tmp_path):
    _train(tmp_path, dict(type='CrossEntropyLoss'), [], epochs=1,
           out_file=None)
    (summary_file, ) = tmp_path.glob('*/summary.json')
    summary = json.loads(summary_file.read_text())
    assert summary['pictures'] == {}
    assert 'grad_hist' not in summary['files']
    assert not (tmp_path / 'fig2_grad_norm.png').exists()


def test_bad_argument():
    with pytest.raises(ValueError, match='draw must be a bool'):
        RunSummaryHook(draw='yes')


def test_plot_grad_norm_tool_draws_fig2_from_the_work_dir(ghm_run, tmp_path):
    """tools/analysis/plot_grad_norm.py on a work dir like the demo's."""
    import subprocess
    import sys
    work_dir, _ = ghm_run
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    out = tmp_path / 'fig2_tail.png'
    proc = subprocess.run(
        [sys.executable, osp.join(repo, 'tools', 'analysis',
                                  'plot_grad_norm.py'), str(work_dir),
         '--cls', '9', '--out', str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'class 9' in proc.stdout and _not_blank(out)


def test_demo_config_leaves_fig2_and_logs_progress_within_epochs():
    from mmengine.config import Config
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(osp.join(
        repo, 'configs', 'ghm_cwap', 'ghm-cwap_resnet20_demo_digits-lt.py'))
    hooks = [h['type'] for h in cfg.custom_hooks]
    # GradHistVisHook with its defaults, after AURAHook's updates.
    assert hooks[-1] == 'mmghm.GradHistVisHook'
    assert cfg.custom_hooks[-1] == dict(type='mmghm.GradHistVisHook')
    assert 'mmghm.AURAHook' in hooks
    assert cfg.default_hooks.summary.type == 'mmghm.RunSummaryHook'
    # 568 training images in batches of 32: 18 iterations an epoch, logged
    # at least three times within it.
    iters = -(-568 // cfg.train_dataloader.batch_size)
    assert iters == 18
    assert iters // cfg.default_hooks.logger.interval >= 3
    assert cfg.default_hooks.checkpoint.max_keep_ckpts == 2
