"""The reproduction harness (mmghm.engine.fast_train) against the Runner.

- Equivalence: with augmentation off, the same seed and the same batch
  order, the harness's first steps give the Runner's (tools/train.py's)
  initial weights, losses and gradients, across an epoch boundary (AURA
  update, DRW switch, warm-up per iteration).
- The device augmentation equals MMPretrain's RandomCrop + RandomFlip.
- A CPU smoke run (1 epoch, 2 methods, real digits) writes result files in
  the mmghm.run_result/1 schema, where mmghm.results reads them; sweeps run
  on a validation split carved from the training set, never on the test
  set.
- Configs are loaded as tools/train.py loads them (mmghm.utils.launch), and
  the hooks whose work the harness does are looked up in the registry.

Synthetic JPEG folders (CustomDataset's layout) stand in for CIFAR-10 so
that nothing here needs ../shared/data.
"""
import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook

import mmghm  # noqa: F401
from mmghm.engine import fast_train as ft
from mmghm.results import RUN_SCHEMA, load_run_results, result_path

ROOT = Path(__file__).resolve().parents[2]
JPEG_30E = {
    'softmax': 'configs/softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py',
    'ghm-cwap':
    'configs/ghm_cwap/ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py',
    'ldam-drw':
    'configs/ldam_drw/ldam-drw_resnet32_30e_cifar10jpeg-lt-if100.py',
}
DIGITS = {
    'softmax': 'configs/softmax/softmax_resnet20_demo_digits-lt.py',
    'ghm-cwap': 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py',
}
#: 20 training images a class at IF 10: 20, 15, 11, 9, 7, 5, 4, 3, 2, 2
#: (78 in all: batches of 32, 32, 14).
SMALL = ['train_dataloader.dataset.imbalance_factor=10',
         'train_dataloader.batch_size=32']


def write_jpeg_folder(root: Path, train: int, test: int,
                      seed: int = 0) -> Path:
    """``train/c<k>/<i>.jpg`` and ``test/...``: 10 classes of noise."""
    rng = np.random.RandomState(seed)
    for split, n in (('train', train), ('test', test)):
        for c in range(10):
            folder = root / split / f'c{c}'
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = rng.randint(0, 256, (32, 32, 3), dtype=np.uint8)
                img[:, :, c % 3] //= 2  # some class signal
                cv2.imwrite(str(folder / f'{i:04d}.jpg'), img)
    return root


@pytest.fixture(scope='module')
def jpeg_root(tmp_path_factory) -> Path:
    return write_jpeg_folder(tmp_path_factory.mktemp('jpeg'), 20, 5)


# --------------------------------------------------------------------------
# Equivalence with tools/train.py's Runner.
# --------------------------------------------------------------------------


class _Recorder(Hook):
    """Initial weights and each step's loss (Runner side)."""

    def __init__(self, trace):
        self.trace = trace

    def before_train(self, runner):
        self.trace.start(runner.model)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.trace.losses.append(float(outputs['loss'].detach()))


class _Trace:
    """Gradients as they are accumulated (before the optimizer step and
    zero_grad), the same way for both paths."""

    def __init__(self):
        self.initial, self.losses, self.grads = None, [], []

    def start(self, model):
        self.initial = {k: v.detach().clone()
                        for k, v in model.state_dict().items()}
        self.names = [n for n, _ in model.named_parameters()]
        self.pending = {}
        for name, p in model.named_parameters():
            p.register_post_accumulate_grad_hook(
                lambda p, name=name: self._grad(name, p))

    def _grad(self, name, p):
        self.pending[name] = p.grad.detach().clone()
        if len(self.pending) == len(self.names):
            self.grads.append(self.pending)
            self.pending = {}


def _runner_trace(config: str, root: Path, work_dir: Path,
                  extra: list) -> _Trace:
    """Train 2 epochs through tools/train.py's code path, no augmentation."""
    from mmengine.config import DictAction
    from mmengine.runner import Runner

    from mmghm.utils import load_config
    action = DictAction(option_strings=['--cfg-options'], dest='o')
    ns = argparse.Namespace()
    action(None, ns, SMALL + extra + ['train_cfg.max_epochs=2'])
    args = argparse.Namespace(
        config=str(ROOT / config), launcher='none', work_dir=str(work_dir),
        cfg_options=ns.o, no_pin_memory=True, local_rank=0)
    cfg = load_config(args)
    loader = cfg.train_dataloader
    loader.num_workers = 0
    loader.persistent_workers = False
    loader.dataset.dataset.pipeline = [
        dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg[key] = None
    assert str(root) in cfg.train_dataloader.dataset.dataset.data_root
    trace = _Trace()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_Recorder(trace), priority='LOWEST')
    runner.train()
    return trace


def _harness_trace(config: str, extra: list) -> _Trace:
    spec = ft.RunSpec(str(ROOT / config), seed=0, cfg_options=SMALL + extra)
    options = ft.HarnessOptions(device='cpu', augment=False, epochs=2)
    cfg = ft.load_run_config(spec, options.epochs)
    data = ft.load_image_sets(cfg, torch.device('cpu'))
    run = ft.TrainRun(spec, data, options)
    trace = _Trace()
    trace.start(run.model)
    for epoch in range(2):
        run.begin_epoch(epoch)
        for k in range(run.iters_per_epoch):
            run.train_iter(k)
            trace.losses.append(float(run.loss_sum))  # running sum
        run.end_epoch()
    # running sums -> per-step losses
    sums, trace.losses = trace.losses, []
    for i, s in enumerate(sums):
        first = i % run.iters_per_epoch == 0
        trace.losses.append(s if first else s - sums[i - 1])
    return trace


@pytest.mark.parametrize('method,extra', [
    ('softmax', []),
    ('ghm-cwap', []),
    # DRW from epoch 1: the second epoch is re-weighted.
    ('ldam-drw', ['model.head.loss.drw_start_epoch=1']),
])
def test_harness_steps_equal_the_runner_steps(method, extra, jpeg_root,
                                              tmp_path, monkeypatch):
    monkeypatch.setenv('CIFAR10_JPEG_ROOT', str(jpeg_root))
    config = JPEG_30E[method]
    ours = _harness_trace(config, extra)
    theirs = _runner_trace(config, jpeg_root, tmp_path, extra)
    # same initial weights and buffers
    assert ours.initial.keys() == theirs.initial.keys()
    for key, value in theirs.initial.items():
        torch.testing.assert_close(ours.initial[key], value, rtol=0, atol=0)
    # 2 epochs x 3 iterations (78 images, batch 32)
    assert len(theirs.losses) == len(ours.losses) == 6
    assert len(theirs.grads) == len(ours.grads) == 6
    np.testing.assert_allclose(ours.losses, theirs.losses, rtol=1e-5,
                               atol=1e-5)
    for step, (a, b) in enumerate(zip(ours.grads, theirs.grads)):
        for name in b:
            torch.testing.assert_close(
                a[name], b[name], rtol=1e-5, atol=1e-5,
                msg=lambda m: f'step {step}, {name}: {m}')


# --------------------------------------------------------------------------
# Pieces.
# --------------------------------------------------------------------------


def test_split_pipeline_cifar_and_digits():
    from mmengine.config import Config
    cfg = Config.fromfile(str(ROOT / JPEG_30E['softmax']))
    prefix, spec = ft.split_pipeline(
        cfg.train_dataloader.dataset.dataset.pipeline)
    assert [t['type'] for t in prefix] == ['LoadImageFromFile']
    assert spec == ft.AugmentSpec(crop=(32, 32), padding=4, flip_prob=0.5)
    digits = Config.fromfile(str(ROOT / DIGITS['softmax']))
    prefix, spec = ft.split_pipeline(
        digits.train_dataloader.dataset.dataset.pipeline)
    assert [t['type'] for t in prefix] == ['Resize']
    assert spec == ft.AugmentSpec(crop=(32, 32), padding=2, flip_prob=0.0)
    prefix, spec = ft.split_pipeline(cfg.val_dataloader.dataset.pipeline)
    assert spec == ft.AugmentSpec()


@pytest.mark.parametrize('transform,message', [
    (dict(type='ColorJitter', brightness=0.4), 'ColorJitter'),
    (dict(type='RandomCrop', crop_size=32, padding=4,
          padding_mode='reflect'), 'padding_mode'),
    (dict(type='RandomFlip', prob=0.5, direction='vertical'), 'horizontal'),
])
def test_split_pipeline_rejects_what_it_cannot_reproduce(transform, message):
    pipeline = [dict(type='LoadImageFromFile'), transform,
                dict(type='PackInputs')]
    with pytest.raises(ValueError, match=message):
        ft.split_pipeline(pipeline)


def test_augment_batch_equals_random_crop_then_flip():
    from mmcv.transforms import RandomFlip
    from mmpretrain.datasets.transforms import RandomCrop
    rng = np.random.RandomState(3)
    images = rng.randint(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    params = np.stack([rng.randint(0, 9, 6), rng.randint(0, 9, 6),
                       np.array([0, 1, 0, 1, 1, 0])], axis=1)
    padded = torch.nn.functional.pad(torch.from_numpy(images),
                                     (0, 0, 4, 4, 4, 4))
    idx = torch.tensor([5, 0, 3, 3, 1, 2])
    out = ft.augment_batch(padded, idx, torch.from_numpy(params), (32, 32))
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.uint8
    for b in range(6):
        oy, ox, flip = (int(v) for v in params[b])
        crop = RandomCrop(crop_size=32, padding=4)
        # the offsets RandomCrop would draw (after padding)
        crop.rand_crop_params = lambda img, oy=oy, ox=ox: (oy, ox, 32, 32)
        res = crop.transform(dict(img=images[idx[b]].copy()))
        res = RandomFlip(prob=float(flip), direction='horizontal').transform(
            res)
        expected = torch.from_numpy(np.ascontiguousarray(
            res['img'].transpose(2, 0, 1)))
        assert torch.equal(out[b], expected), b


def test_stratified_split_holds_out_per_class():
    labels = np.repeat(np.arange(4), [10, 5, 2, 1])
    kept, held = ft.stratified_split(labels, 0.2, seed=0)
    assert np.bincount(labels[held], minlength=4).tolist() == [2, 1, 1, 0]
    assert np.bincount(labels[kept], minlength=4).tolist() == [8, 4, 1, 1]
    assert not set(kept) & set(held)
    assert sorted(np.concatenate([kept, held])) == list(range(18))
    again, _ = ft.stratified_split(labels, 0.2, seed=0)
    other, _ = ft.stratified_split(labels, 0.2, seed=1)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)


def test_expand_sweep_grid():
    grid = ft.expand_sweep(['alpha=0.5,0.9', 'N=10,30'])
    assert grid == [
        ('alpha0.5-n10', ['model.head.loss.alpha=0.5',
                          'model.head.loss.num_bins=10']),
        ('alpha0.5-n30', ['model.head.loss.alpha=0.5',
                          'model.head.loss.num_bins=30']),
        ('alpha0.9-n10', ['model.head.loss.alpha=0.9',
                          'model.head.loss.num_bins=10']),
        ('alpha0.9-n30', ['model.head.loss.alpha=0.9',
                          'model.head.loss.num_bins=30']),
    ]
    # variant names are result-file names (lower case, '-' for '_')
    assert [name for name, _ in ft.expand_sweep(
        ['model.head.loss.num_bins=10'])] == ['num-bins10']
    for name, _ in grid:
        assert result_path('r', 's', 'c.py', name, 0) == \
            f'r/s/c@{name}/seed0.json'
    with pytest.raises(ValueError, match='KEY=V1'):
        ft.expand_sweep(['alpha'])
    with pytest.raises(ValueError, match='not a number'):
        ft.expand_sweep(['gamma=[1]'])


def test_unknown_custom_hook_is_refused():
    from mmengine.config import Config
    cfg = Config(dict(custom_hooks=[dict(type='mmghm.ClassCountsHook'),
                                    dict(type='EMAHook')]))
    with pytest.raises(ValueError, match='EMAHook'):
        ft.hook_plan(cfg)


def test_hook_plan_looks_hooks_up_in_the_registry():
    from mmengine.config import Config

    from mmghm.engine.hooks import AURAHook, LossEpochHook
    cfg = Config(dict(default_scope='mmpretrain', custom_hooks=[
        dict(type='mmghm.AURAHook', by_epoch=False, interval=3),
        dict(type=LossEpochHook), dict(type='mmghm.GradHistVisHook')]))
    plan = ft.hook_plan(cfg)
    # the config's AURAHook itself, with its arguments
    assert type(plan.aura) is AURAHook
    assert (plan.aura.by_epoch, plan.aura.interval) == (False, 3)
    assert plan.loss_epoch and not plan.class_counts
    assert not plan.exact_resume

    class RenamedAURAHook(AURAHook):
        """A subclass may do other work than the hook it extends."""

    with pytest.raises(ValueError, match='RenamedAURAHook'):
        ft.hook_plan(Config(dict(custom_hooks=[dict(type=RenamedAURAHook)])))
    with pytest.raises(ValueError, match='not registered'):
        ft.hook_plan(Config(dict(custom_hooks=[dict(type='NoSuchHook')])))


def test_load_run_config_checks_options_as_tools_train_does():
    config = str(ROOT / DIGITS['softmax'])
    spec = ft.RunSpec(config, cfg_options=['trian_cfg.max_epochs=1'])
    with pytest.warns(UserWarning, match="did you mean 'train_cfg'"):
        ft.load_run_config(spec)
    spec = ft.RunSpec(config, cfg_options=['train_cfg.max_epochs=abc'])
    with pytest.raises(ValueError, match='must be an integer'):
        ft.load_run_config(spec)
    cfg = ft.load_run_config(ft.RunSpec(
        config, seed=3, cfg_options=['model.head.num_classes=10',
                                     'optim_wrapper.optimizer.lr=0.5']), 2)
    assert cfg.optim_wrapper.optimizer.lr == 0.5
    assert cfg.randomness.seed == 3 and cfg.train_cfg.max_epochs == 2


def test_ldam_graph_state_changes_only_at_the_drw_switch():
    from mmghm.models.losses import LDAMLoss
    loss = LDAMLoss(num_classes=3, class_counts=[5, 3, 1],
                    drw_start_epoch=2)
    states = []
    for epoch in range(4):
        loss.set_epoch(epoch)
        states.append(loss.graph_state())
    assert states[0] == states[1] != states[2] == states[3]


def test_sweep_needs_a_validation_split():
    with pytest.raises(SystemExit, match='val-split'):
        ft.main([DIGITS['ghm-cwap'], '--sweep', 'alpha=0.5', '--device',
                 'cpu'], log=lambda s: None)


# --------------------------------------------------------------------------
# Smoke runs on real data (scikit-learn's digits).
# --------------------------------------------------------------------------


def test_smoke_one_epoch_two_methods_writes_results(tmp_path, monkeypatch):
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    lines = []
    records = ft.main([
        str(ROOT / DIGITS['softmax']), str(ROOT / DIGITS['ghm-cwap']),
        '--epochs', '1', '--max-train', '200', '--max-test', '100',
        '--device', 'cpu', '--out-dir', str(tmp_path)
    ], log=lines.append)
    assert len(records) == 2
    # nothing beside the result files (the demo's GroupAccuracy out_file
    # is the harness's per_class record, not a file in the working dir)
    assert list(cwd.iterdir()) == []
    files = sorted(tmp_path.rglob('seed0.json'))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        'digits-lt_1e_cpu_subset/ghm-cwap_resnet20_demo_digits-lt/seed0.json',
        'digits-lt_1e_cpu_subset/softmax_resnet20_demo_digits-lt/seed0.json',
    ]
    rec = json.loads(files[0].read_text())
    assert rec['schema'] == 'mmghm.run_result/1'
    assert rec['config'] == \
        'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'
    assert rec['seed'] == 0 and rec['cfg_options'] == [] and \
        rec['variant'] is None
    assert {'accuracy/top1', 'group_accuracy/many', 'group_accuracy/medium',
            'group_accuracy/few', 'group_accuracy/mean_class'} <= set(
                rec['metrics'])
    m = rec['measured']
    assert m['tool'] == 'tools/analysis/reproduce_cifar_lt.py'
    assert m['epochs'] == 1 and m['evaluated'] == 'last epoch'
    assert m['precision'] == 'fp32' and m['device'].startswith('cpu')
    counts = rec['per_class']['train_counts']
    # about 200 of the 568 long-tailed digits, every class kept
    assert 190 <= sum(counts) <= 210 and min(counts) >= 1
    assert counts == sorted(counts, reverse=True)
    assert len(rec['per_class']['accuracy']) == 10
    # the overall top-1 is the per-class accuracies weighted by test counts
    assert 0 <= rec['metrics']['accuracy/top1'] <= 100
    assert any('images/s' in line for line in lines)


def test_aura_and_epoch_hooks_run_as_configured():
    spec = ft.RunSpec(str(ROOT / DIGITS['ghm-cwap']))
    options = ft.HarnessOptions(device='cpu', epochs=2, max_train=100,
                                max_test=50)
    cfg = ft.load_run_config(spec, 2)
    data = ft.load_image_sets(cfg, torch.device('cpu'))
    run = ft.TrainRun(spec, data, options)
    loss = run.model.head.loss_module
    assert run.ghm_losses == [loss]
    run.begin_epoch(0)
    for k in range(run.iters_per_epoch):
        run.train_iter(k)
    assert int(loss.num_updates) == 0
    run.end_epoch()
    assert int(loss.num_updates) == 1  # AURAHook: after each epoch
    # uniform bins in the first epoch: the reference density counts each
    # training image once
    assert float(loss.ref_density.sum()) == pytest.approx(run.num_train)
    ft.train_runs([run], log=lambda s: None)  # the second (last) epoch
    assert int(loss.num_updates) == 2 and run.done
    assert run.evaluator.metrics[1].class_counts.tolist() == \
        run.class_counts


def test_sweep_on_a_validation_split_never_reads_the_test_set(
        tmp_path, monkeypatch):
    seen = []
    real = ft.load_image_sets

    def spy(cfg, device, pack_path=None, with_test=True):
        seen.append(with_test)
        return real(cfg, device, pack_path, with_test)

    monkeypatch.setattr(ft.cli, 'load_image_sets', spy)
    records = ft.main([
        str(ROOT / DIGITS['ghm-cwap']), '--val-split', '0.25', '--sweep',
        'alpha=0.5,0.9', '--epochs', '1', '--device', 'cpu', '--out-dir',
        str(tmp_path)
    ], log=lambda s: None)
    assert seen == [False]
    assert [r['variant'] for r in records] == ['alpha0.5', 'alpha0.9']
    assert [r['cfg_options'] for r in records] == [
        ['model.head.loss.alpha=0.5'], ['model.head.loss.alpha=0.9']]
    folders = sorted(p.parent.name for p in tmp_path.rglob('seed0.json'))
    assert folders == ['ghm-cwap_resnet20_demo_digits-lt@alpha0.5',
                       'ghm-cwap_resnet20_demo_digits-lt@alpha0.9']
    assert all(p.parts[-3] == 'digits-lt_1e_cpu_val'
               for p in tmp_path.rglob('seed0.json'))
    rec = records[0]
    assert 'validation split' in rec['measured']['evaluated']
    # 568 long-tailed digits: 25% of each class held out, the rest trains
    full = [140, 108, 83, 64, 50, 38, 30, 23, 18, 14]
    held = [max(1, round(0.25 * n)) for n in full]
    assert rec['per_class']['train_counts'] == [
        n - h for n, h in zip(full, held)]
    assert f'{sum(held)} evaluated' in rec['measured']['data']


def test_sweep_results_load_with_mmghm_results(tmp_path):
    records = ft.main([
        str(ROOT / DIGITS['ghm-cwap']), '--val-split', '0.25', '--sweep',
        'gamma=0.4,0.8', '--epochs', '1', '--max-train', '120', '--device',
        'cpu', '--out-dir', str(tmp_path)
    ], log=lambda s: None)
    results = load_run_results(str(tmp_path))
    stem = 'ghm-cwap_resnet20_demo_digits-lt'
    assert [r.key for r in results] == [(stem, 'gamma0.4'),
                                        (stem, 'gamma0.8')]
    assert {r.suite for r in results} == {'digits-lt_1e_cpu_val_subset'}
    assert [r.data for r in results] == records
    assert all(r.data['schema'] == RUN_SCHEMA for r in results)


def test_a_variant_no_result_file_can_have_stops_before_training(tmp_path):
    with pytest.raises(SystemExit, match='no result file can be written.*'
                       'alphaHigh'):
        ft.main([
            str(ROOT / DIGITS['ghm-cwap']), '--val-split', '0.25', '--sweep',
            'model.head.loss.alpha=High', '--device', 'cpu', '--out-dir',
            str(tmp_path)
        ], log=lambda s: None)
    assert list(tmp_path.iterdir()) == []


def test_runner_path_comparison_runs_both_paths():
    """--compare-runner times the harness and the Runner's DataLoader +
    train_step on the same config (here only that both ran)."""
    spec = ft.RunSpec(str(ROOT / DIGITS['ghm-cwap']))
    options = ft.HarnessOptions(device='cpu', max_test=50)
    cfg = ft.load_run_config(spec)
    run = ft.TrainRun(spec, ft.load_image_sets(cfg, torch.device('cpu')),
                      options)
    res = ft.compare_with_runner(run, iters=2, rounds=1)
    assert res['harness'] > 0 and res['runner'] > 0
    assert run.iter == 2  # the harness's steps were real steps


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('method', ['softmax', 'ghm-cwap'])
def test_cuda_graph_steps_equal_eager_steps(method):
    """Captured steps (replayed across lr changes and AURA updates) train
    the same weights as eager steps."""
    spec = ft.RunSpec(str(ROOT / DIGITS[method]))
    options = ft.HarnessOptions(device='cuda', cuda_graphs=True,
                                channels_last=True)
    cfg = ft.load_run_config(spec)
    data = ft.load_image_sets(cfg, torch.device('cuda'))
    res = ft.check_graphs(spec, data, options, epochs=3, max_train=256)
    if res['graph_note'].startswith('eager') and method != 'softmax':
        pytest.skip(f'{method} runs eagerly: {res["graph_note"]}')
    assert res['replays'] > 0, res
    assert res['max_rel_diff'] < 1e-4, res
