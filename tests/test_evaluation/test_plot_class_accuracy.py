"""tools/analysis/plot_class_accuracy.py on the outputs of two real runs
(cross-entropy vs GHM-CWAP, one epoch each on scikit-learn's digits, LT)."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis' / 'plot_class_accuracy.py'
PIPELINE = [dict(type='Resize', scale=(16, 16)), dict(type='PackInputs')]


def load_tool():
    """The module the tool is a command line of."""
    from mmghm.visualization import class_accuracy
    return class_accuracy


def loader(dataset, shuffle):
    return dict(batch_size=64, num_workers=0, dataset=dataset,
                sampler=dict(type='DefaultSampler', shuffle=shuffle))


def train_once(work_dir, loss, hooks):
    cfg = dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['mmghm'], allow_failed_imports=False),
        work_dir=str(work_dir),
        model=dict(
            type='ImageClassifier',
            # digits: pixel mean ~ 78, std ~ 96 (of 0..255)
            data_preprocessor=dict(mean=[78.0] * 3, std=[96.0] * 3),
            backbone=dict(type='mmghm.CifarResNet', depth=20),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
                      loss=loss)),
        train_dataloader=loader(
            dict(type='mmghm.LongTailedDataset', imbalance_factor=10,
                 dataset=dict(type='mmghm.SklearnDigits', split='train',
                              pipeline=PIPELINE)), True),
        train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05,
                                          momentum=0.9)),
        val_dataloader=loader(
            dict(type='mmghm.SklearnDigits', split='test',
                 pipeline=PIPELINE), False),
        val_cfg=dict(),
        val_evaluator=dict(type='mmghm.GroupAccuracy', mode='quantile',
                           out_file='per_class.json'),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[dict(type='mmghm.ClassCountsHook')] + hooks,
        log_level='WARNING',
        randomness=dict(seed=0))
    Runner.from_cfg(Config(copy.deepcopy(cfg))).train()
    test_cfg = dict(cfg, test_dataloader=cfg['val_dataloader'],
                    test_cfg=dict(), test_evaluator=cfg['val_evaluator'])
    Config(test_cfg).dump(str(work_dir / 'test_cfg.py'))
    return work_dir / 'per_class.json'


@pytest.fixture(scope='module')
def run_outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('runs')
    ce = train_once(root / 'ce', dict(type='CrossEntropyLoss'), [])
    ghm = train_once(root / 'ghm',
                     dict(type='mmghm.GHMCWAPLoss', num_classes=10),
                     [dict(type='mmghm.AURAHook')])
    return ce, ghm


def test_plot_two_runs(run_outputs, tmp_path):
    ce, ghm = run_outputs
    out = tmp_path / 'class_accuracy.png'
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(ce), str(ghm), '--labels', 'CE',
         'GHM-CWAP', '--out', str(out), '--title', 'digits-LT'],
        capture_output=True, text=True, cwd=str(REPO), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 15_000
    img = np.asarray(Image.open(out).convert('RGB'))
    assert img.shape[0] >= 400 and img.shape[1] >= 600
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # not blank


def test_sorted_data_match_the_runs(run_outputs):
    tool = load_tool()
    ce = tool.load_result(str(run_outputs[0]))
    data = tool.sort_by_frequency(ce)
    # The digits-LT training counts, most to least frequent.
    assert data['counts'].tolist() == [140, 108, 83, 64, 50, 38, 30, 23, 18,
                                       14]
    assert data['order'].tolist() == list(range(10))
    assert np.allclose(data['accuracy'], ce['per_class_accuracy'])
    assert data['group'].tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    # The same run with its classes relabelled: the sort undoes it.
    perm = [3, 7, 0, 9, 5, 1, 8, 2, 6, 4]  # new class i = old class perm[i]
    keys = ('class_counts', 'per_class_accuracy', 'group_of_class')
    relabelled = dict(ce, **{k: [ce[k][p] for p in perm] for k in keys})
    back = tool.sort_by_frequency(relabelled)
    assert [perm[i] for i in back['order']] == list(range(10))
    for key in ('counts', 'accuracy', 'group'):
        assert np.array_equal(back[key], data[key]), key
    # The per-class numbers are consistent with the logged top-1.
    acc = np.array(ce['per_class_accuracy'])
    n = np.array(ce['num_test_samples'])
    assert (acc * n).sum() / n.sum() == pytest.approx(ce['top1'])


def test_sort_by_frequency_orders_permuted_counts_with_ties_by_index():
    """Most to least frequent, ties by class index; every per-class column
    moves with its class (a class without test samples gives NaN)."""
    tool = load_tool()
    counts = [5, 40, 5, 12, 40, 1, 12, 5]
    accuracy = [50.0, 90.0, None, 70.0, 80.0, 0.0, 60.0, 40.0]
    groups = [2, 0, 2, 1, 0, 2, 1, 2]
    data = tool.sort_by_frequency(dict(
        class_counts=counts, per_class_accuracy=accuracy,
        group_of_class=groups))
    expected = sorted(range(8), key=lambda c: (-counts[c], c))
    assert expected == [1, 4, 3, 6, 0, 2, 7, 5]
    assert data['order'].tolist() == expected
    assert data['counts'].tolist() == [40, 40, 12, 12, 5, 5, 5, 1]
    assert data['group'].tolist() == [0, 0, 1, 1, 2, 2, 2, 2]
    np.testing.assert_array_equal(
        data['accuracy'], [90.0, 80.0, 70.0, 60.0, 50.0, np.nan, 40.0, 0.0])


def test_bad_inputs(run_outputs, tmp_path):
    tool = load_tool()
    ce = tool.load_result(str(run_outputs[0]))
    other = dict(ce, class_counts=ce['class_counts'][::-1])
    with pytest.raises(ValueError, match="other training class counts"):
        tool.plot_class_accuracy([ce, other], ['a', 'b'],
                                 str(tmp_path / 'x.png'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(top1=3.0)))
    with pytest.raises(ValueError, match='lacks .*GroupAccuracy'):
        tool.load_result(str(bad))


def test_rarest_class_bar_is_drawn_and_legend_covers_no_bar(run_outputs):
    """The digits-LT counts run 140 .. 14: a log axis left alone starts
    above 14 and hides the rarest bar; the legend (one entry a run) lies
    outside the axes, so it covers neither bars nor accuracy lines."""
    import matplotlib.pyplot as plt
    tool = load_tool()
    ce, ghm = (tool.load_result(str(p)) for p in run_outputs)
    fig, ax, bars, legend = tool.draw_class_accuracy([ce, ghm],
                                                     ['CE', 'GHM-CWAP'])
    try:
        bottom, top = bars.get_ylim()
        heights = sorted(p.get_height() for p in bars.patches)
        assert heights[0] == 14 and heights[-1] == 140
        assert bottom == pytest.approx(7.0) and top == pytest.approx(210.0)
        assert bottom < heights[0] <= heights[-1] < top
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        box = legend.get_window_extent(renderer)
        axes_box = ax.get_window_extent(renderer)
        assert box.y1 < axes_box.y0  # wholly below the axes
        assert [t.get_text().split(':')[0] for t in legend.get_texts()] == [
            'CE', 'GHM-CWAP']
    finally:
        plt.close(fig)


@pytest.mark.subprocess  # a tool in a separate process
def test_tools_test_py_without_work_dir_keeps_the_trainings_per_class(
        run_outputs):
    """tools/test.py without --work-dir tests in the training's work dir;
    GroupAccuracy's per_class.json of the test goes into the test's own
    timestamped folder and the training's file is left as it was."""
    per_class = run_outputs[1]
    work_dir = per_class.parent
    before = per_class.read_bytes()
    folders = {p.name for p in work_dir.iterdir() if p.is_dir()}
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'test.py'),
         str(work_dir / 'test_cfg.py'), str(work_dir / 'epoch_1.pth')],
        capture_output=True, text=True, cwd=str(work_dir), timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert per_class.read_bytes() == before
    (new, ) = {p.name for p in work_dir.iterdir() if p.is_dir()} - folders
    tested = json.loads((work_dir / new / 'per_class.json').read_text())
    trained = json.loads(before)
    # The same checkpoint, so the same per-class accuracies.
    assert tested['per_class_accuracy'] == trained['per_class_accuracy']


@pytest.mark.subprocess  # a tool in a separate process
def test_plot_without_out_writes_beside_the_first_file(run_outputs, tmp_path):
    """Without --out the picture goes beside the first JSON file, not into
    the folder the tool is run from."""
    ce, ghm = run_outputs
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(ghm), str(ce)],
        capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = ghm.parent / 'class_accuracy.png'
    assert proc.stdout.strip() == f'Saved {out}'
    assert out.is_file() and list(tmp_path.iterdir()) == []
