"""tools/analysis/collect_results.py on Runner-format outputs."""
import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT.parent / 'shared' / 'paper' / '000_173218c04a7fad39.txt'


def _load():
    path = ROOT / 'tools' / 'analysis' / 'collect_results.py'
    spec = importlib.util.spec_from_file_location('collect_results', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cr = _load()


# --- Fake work dirs, in the layout MMEngine 0.10's Runner writes ----------
def _train_lines(epochs, top1s, groups=None, iters_per_epoch=3):
    """LoggerHook/LocalVisBackend lines: train iterations, then a val line
    (step = epoch) after each epoch."""
    lines, it = [], 0
    for epoch, top1 in zip(epochs, top1s):
        for _ in range(iters_per_epoch):
            it += 1
            lines.append({'lr': 0.1, 'data_time': 0.01, 'loss': 1.0,
                          'time': 0.2, 'epoch': epoch, 'iter': it,
                          'memory': 10, 'step': it})
        val = {'accuracy/top1': top1, 'group_accuracy/top1': top1,
               'group_accuracy/mean_class': top1 - 1, 'data_time': 0.01,
               'time': 0.1, 'step': epoch}
        for name, value in (groups or {}).items():
            val[f'group_accuracy/{name}'] = value
        lines.append(val)
    return lines


def make_run(root: Path, work_dir: str, config: str, runs, tests=()):
    """runs: [(timestamp, epochs, top1s, groups)]; tests: [(ts, metrics)]."""
    wd = root / work_dir
    wd.mkdir(parents=True)
    (wd / f'{config}.py').write_text('# dumped config\n')
    for ts, epochs, top1s, groups in runs:
        vis = wd / ts / 'vis_data'
        vis.mkdir(parents=True)
        text = '\n'.join(
            json.dumps(line)
            for line in _train_lines(epochs, top1s, groups)) + '\n'
        (vis / 'scalars.json').write_text(text)
        (vis / f'{ts}.json').write_text(text)
        (vis / 'config.py').write_text('# config\n')
        (wd / ts / f'{ts}.log').write_text('log\n')
    for ts, metrics in tests:
        (wd / ts).mkdir(parents=True)
        (wd / ts / f'{ts}.json').write_text(json.dumps(metrics))
    return wd


C10 = 'cifar10-lt-if100'


@pytest.fixture
def work_dirs(tmp_path):
    root = tmp_path / 'work_dirs'
    # GHM-CWAP: trained in two sessions (resumed), best epoch is not last.
    make_run(root, f'ghm-cwap_resnet32_200e_{C10}',
             f'ghm-cwap_resnet32_200e_{C10}',
             [('20240101_000000', [1, 2], [50.0, 77.5], None),
              ('20240102_000000', [3], [76.0], None)])
    # Softmax: two seeds in work dirs of other names.
    for seed, top1 in ((0, 69.0), (1, 71.0)):
        make_run(root, f'ce_seed{seed}', f'softmax_resnet32_200e_{C10}',
                 [('20240101_000000', [1], [top1], None)])
    # Seesaw: validated during training, then tools/test.py.
    make_run(root, f'seesaw_resnet32_200e_{C10}',
             f'seesaw_resnet32_200e_{C10}',
             [('20240101_000000', [1], [60.0], None)],
             tests=[('20240103_000000', {'accuracy/top1': 74.25,
                                         'group_accuracy/many': 90.0})])
    # ImageNet-LT with the four groups (rare empty -> NaN), and Table 3.
    groups = {'many': 64.0, 'medium': 49.0, 'few': 26.0, 'rare': math.nan}
    make_run(root, 'ghm-cwap_resnet50_90e_imagenet-lt',
             'ghm-cwap_resnet50_90e_imagenet-lt',
             [('20240101_000000', [90], [39.0], groups)])
    make_run(root, 'ghm-cwap-r_resnet50_90e_imagenet-lt',
             'ghm-cwap-r_resnet50_90e_imagenet-lt',
             [('20240101_000000', [90], [38.5], groups)])
    # CPU-sized comparison on the JPEG copy, with three groups.
    make_run(root, 'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100',
             'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100',
             [('20240101_000000', [30], [66.0],
               {'many': 90.5, 'medium': 60.25, 'few': 45.0})])
    # The same training with histogram logging: averaged with the above.
    make_run(root, 'ghm-cwap-vis', 'ghm-cwap-vis_resnet32_30e_'
             'cifar10jpeg-lt-if100',
             [('20240101_000000', [30], [68.0],
               {'many': 90.5, 'medium': 62.25, 'few': 49.0})])
    # MMPretrain's Seesaw: the paper's Seesaw row is its reference.
    make_run(root, 'seesaw-mmpretrain', 'seesaw-mmpretrain_resnet32_30e_'
             'cifar10jpeg-lt-if100', [('20240101_000000', [30], [63.5], None)])
    # Not following the naming convention: skipped with a warning.
    make_run(root, 'scratch', 'my_experiment',
             [('20240101_000000', [1], [10.0], None)])
    return root


def _row(text: str, title: str, label: str) -> list:
    """Cells of the row ``label`` in the table under ``title``."""
    block = text.split(title, 1)[1].split('###', 1)[0]
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip('|').split('|')]
        if cells[0] == label:
            return cells[1:]
    raise AssertionError(f'no row {label!r} under {title!r}')


def test_parse_config_name():
    n = cr.parse_config_name('configs/x/ghm-cwap-r-a-ura_resnet50_90e_'
                             'imagenet-lt.py')
    assert (n.method, n.backbone, n.schedule, n.dataset,
            n.imbalance_factor) == ('ghm-cwap-r-a-ura', 'resnet50', '90e',
                                    'imagenet-lt', None)
    n = cr.parse_config_name('softmax_resnet32_30e_cifar10jpeg-lt-if100')
    assert (n.dataset, n.imbalance_factor) == ('cifar10jpeg-lt', 100)
    with pytest.raises(ValueError, match='does not follow'):
        cr.parse_config_name('resnet32_cifar10')
    # Same training, extra logging: counts as GHM-CWAP.
    n = cr.parse_config_name('ghm-cwap-vis_resnet32_30e_cifar10jpeg-lt-if100')
    assert (n.method, n.name) == (
        'ghm-cwap', 'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100')


def test_reads_runner_outputs(work_dirs):
    runs = {Path(r.work_dir).name: r for r in cr.load_runs([work_dirs])}
    ghm = runs[f'ghm-cwap_resnet32_200e_{C10}']
    # Both sessions, in time order; train lines are not validations.
    assert [m['accuracy/top1'] for m in ghm.val] == [50.0, 77.5, 76.0]
    assert [m['step'] for m in ghm.val] == [1.0, 2.0, 3.0]
    assert ghm.test is None
    assert runs['ce_seed1'].config == f'softmax_resnet32_200e_{C10}'
    seesaw = runs[f'seesaw_resnet32_200e_{C10}']
    assert seesaw.test == {'accuracy/top1': 74.25,
                           'group_accuracy/many': 90.0}
    assert len(runs) == 10


def test_select_last_best_test(work_dirs):
    runs = {Path(r.work_dir).name: r for r in cr.load_runs([work_dirs])}
    ghm = runs[f'ghm-cwap_resnet32_200e_{C10}']
    assert cr.select_metrics(ghm, 'auto', 'last')['accuracy/top1'] == 76.0
    assert cr.select_metrics(ghm, 'auto', 'best')['accuracy/top1'] == 77.5
    assert cr.select_metrics(ghm, 'test') is None
    seesaw = runs[f'seesaw_resnet32_200e_{C10}']
    assert cr.select_metrics(seesaw, 'auto')['accuracy/top1'] == 74.25
    assert cr.select_metrics(seesaw, 'val')['accuracy/top1'] == 60.0
    with pytest.raises(ValueError, match="select must be 'last' or 'best'"):
        cr.select_metrics(seesaw, 'val', 'first')


def test_table1_cells_and_seed_average(work_dirs, capsys):
    assert cr.main([str(work_dirs), '--out',
                    str(work_dirs / 'results.md')]) == 0
    out = capsys.readouterr()
    text = (work_dirs / 'results.md').read_text()
    assert text == out.out
    assert 'my_experiment' in out.err and 'does not follow' in out.err
    title = '### Table 1: CIFAR-10-LT, resnet32, 200e'
    # Columns IF 500, 100, 10, 1: ours / paper.
    assert _row(text, title, 'GHM-CWAP (R + A^AURA)') == [
        '– / 66.13', '76.00 / 75.39', '– / 87.29', '– / 92.75']
    # Two seeds: mean 70, sample std sqrt(2).
    assert _row(text, title, 'Softmax')[1] == \
        '70.00 ± 1.41 (n=2) / 71.74'
    assert _row(text, title, 'Seesaw')[1] == '74.25 / 75.18'
    assert _row(text, title, 'GHM-C') == [
        '– / 41.50', '– / 51.66', '– / 67.87', '– / 79.35']


def test_best_epoch_option(work_dirs, capsys):
    cr.main([str(work_dirs), '--select', 'best', '--source', 'val'])
    text = capsys.readouterr().out
    title = '### Table 1: CIFAR-10-LT, resnet32, 200e'
    assert _row(text, title, 'GHM-CWAP (R + A^AURA)')[1] == '77.50 / 75.39'
    assert _row(text, title, 'Seesaw')[1] == '60.00 / 75.18'
    assert 'best validation epoch (optimistic)' in text


def test_table2_table3_and_details(work_dirs, capsys):
    cr.main([str(work_dirs)])
    text = capsys.readouterr().out
    t2 = '### Table 2: ImageNet-LT, resnet50, 90e'
    # Many, Medium, Few, Rare (NaN -> missing), Overall.
    assert _row(text, t2, 'GHM-CWAP (R + A^AURA)') == [
        '64.00 / 63.61', '49.00 / 48.73', '26.00 / 25.78', '– / 16.95',
        '39.00 / 38.77']
    assert _row(text, t2, 'Softmax')[-1] == '– / 36.67'
    # The ablation goes to Table 3, not Table 2.
    with pytest.raises(AssertionError):
        _row(text, t2, 'R (intra only, URA)')
    t3 = '### Table 3: ablation on ImageNet-LT, resnet50, 90e'
    assert _row(text, t3, 'R (intra only, URA)')[-1] == '38.50 / 38.02'
    assert _row(text, t3, 'A^URA (inter only)') == [
        '– / 63.93', '– / 48.32', '– / 22.60', '– / 13.44', '– / 37.07']
    # The JPEG comparison: a Table 1 block against the paper's CIFAR-10-LT
    # IF 100 numbers (flagged), and the per-config details with groups.
    jpeg = '### Table 1: CIFAR-10-LT (JPEG copy), resnet32, 30e'
    assert _row(text, jpeg, 'GHM-CWAP (R + A^AURA)') == [
        '67.00 ± 1.41 (n=2) / 75.39']
    assert _row(text, jpeg, 'Seesaw (MMPretrain)') == ['63.50 / 75.18']
    assert 'compare methods within the ours column' in \
        text.split(jpeg, 1)[1].split('###', 1)[0]
    # No run has a (non-NaN) Rare group: no Rare column.
    details = '### All runs (ours)'
    assert '| Config | Runs | Top-1 | Many | Medium | Few |\n' in text
    assert _row(text, details,
                '`ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100`') == [
                    '2', '67.00 ± 1.41 (n=2)', '90.50 ± 0.00 (n=2)',
                    '61.25 ± 1.41 (n=2)', '47.00 ± 2.83 (n=2)']
    assert _row(text, details, f'`softmax_resnet32_200e_{C10}`')[:2] == [
        '2', '70.00 ± 1.41 (n=2)']


def test_metrics_file_from_test_tool(tmp_path, capsys):
    wd = tmp_path / 'focal_resnet32_200e_cifar100-lt-if10'
    wd.mkdir()
    (wd / 'focal_resnet32_200e_cifar100-lt-if10.py').write_text('')
    out = wd / 'metrics.json'
    out.write_text(json.dumps({'accuracy/top1': 55.5,
                               'accuracy/top5': 80.0}))
    assert cr.main([str(out)]) == 0
    text = capsys.readouterr().out
    assert _row(text, '### Table 1: CIFAR-100-LT, resnet32, 200e',
                'Focal')[2] == '55.50 / 56.12'


def test_bad_input(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match='no such file'):
        cr.load_runs([str(tmp_path / 'missing')])
    bad = tmp_path / 'wd' / '20240101_000000' / 'vis_data'
    bad.mkdir(parents=True)
    (bad / 'scalars.json').write_text('{"accuracy/top1": 1}\nnot json\n')
    with pytest.raises(ValueError, match='line 2 is not JSON'):
        cr.load_runs([str(tmp_path / 'wd')])
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert cr.main([str(empty)]) == 1
    assert 'No results found' in capsys.readouterr().out


def _runner_clock(monkeypatch, stamp: str) -> None:
    """Make the next Runners name their timestamp folder ``stamp``
    (``%Y%m%d_%H%M%S``): MMEngine takes it from ``time.time()`` in
    ``mmengine.runner.runner``; only that module's clock is replaced."""
    import time

    import mmengine.runner.runner as runner_module
    now = time.mktime(time.strptime(stamp, '%Y%m%d_%H%M%S'))

    class Clock:

        def time(self):
            return now

        def __getattr__(self, name):
            return getattr(time, name)

    monkeypatch.setattr(runner_module, 'time', Clock())


def test_real_runner_outputs(tmp_path, monkeypatch):
    """Train and test a toy model with MMEngine's Runner, then collect."""
    import torch
    from mmengine.evaluator import BaseMetric
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

        def forward(self, inputs, labels, mode='tensor'):
            logits = self.linear(inputs)  # default_collate stacked them
            if mode == 'loss':
                return {'loss': torch.nn.functional.cross_entropy(
                    logits, labels)}
            return list(zip(logits.argmax(1), labels))

    class Top1(BaseMetric):
        """accuracy/top1 and group_accuracy/many, fixed per evaluation."""
        default_prefix = None

        def __init__(self):
            super().__init__()
            self.calls = 0

        def process(self, data_batch, data_samples):
            self.results.extend(data_samples)

        def compute_metrics(self, results):
            self.calls += 1
            return {'accuracy/top1': 10.0 * self.calls,
                    'group_accuracy/many': 1.5 * self.calls}

    data = [dict(inputs=torch.randn(2), labels=torch.tensor(i % 2))
            for i in range(8)]
    loader = dict(dataset=data, batch_size=4,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    name = 'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100'
    work_dir = tmp_path / name
    cfg_file = tmp_path / f'{name}.py'
    cfg_file.write_text('x = 1\n')
    from mmengine.config import Config
    common = dict(
        model=Toy(), work_dir=str(work_dir), val_dataloader=loader,
        val_evaluator=[Top1()], val_cfg=dict(), default_scope='mmengine',
        cfg=Config.fromfile(str(cfg_file)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)))
    _runner_clock(monkeypatch, '20260101_000000')
    runner = Runner(train_dataloader=loader,
                    train_cfg=dict(by_epoch=True, max_epochs=3),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    **common)
    runner.train()
    assert (work_dir / '20260101_000000' / 'vis_data' /
            'scalars.json').is_file()
    runs = cr.load_runs([str(tmp_path)])
    assert len(runs) == 1 and runs[0].config == name
    assert [m['accuracy/top1'] for m in runs[0].val] == [10.0, 20.0, 30.0]
    assert cr.select_metrics(runs[0])['group_accuracy/many'] == 4.5
    # tools/test.py: a new timestamp folder with one JSON object.
    _runner_clock(monkeypatch, '20260101_000001')
    tester = Runner(test_dataloader=loader, test_evaluator=[Top1()],
                    test_cfg=dict(), **common)
    tester.test()
    assert (work_dir / '20260101_000001' / '20260101_000001.json').is_file()
    (run, ) = cr.load_runs([str(tmp_path)])
    assert run.test['accuracy/top1'] == 10.0
    results, _ = cr.aggregate([run])
    assert results[name].columns['many'].values == [1.5]


@pytest.mark.skipif(not PAPER.is_file(), reason=f'{PAPER} not available')
def test_paper_numbers_match_the_paper_text():
    """PAPER_TABLE1-3 are the numbers printed in the paper's tables."""
    text = re.sub(r'</?b>', '', PAPER.read_text(encoding='utf-8'))

    def row(label: str, after: str) -> list:
        block = text.split(after, 1)[1]
        for line in block.splitlines():
            cells = line.split('\t')
            if cells[0].strip() == label:
                return [float(c) for c in cells[1:] if c.strip()]
        raise AssertionError(label)

    t1 = '**Table 1.**'
    labels = {'softmax': 'Softmax', 'class-balanced': 'Class Balanced',
              'focal': 'Focal [23]', 'ghmc': 'GHM [24]',
              'effective-number': 'Effective Number [18]',
              'equalization': 'Equalization [19]', 'seesaw': 'Seesaw [20]',
              'ghm-cwap': 'ours'}
    for method, label in labels.items():
        expected = [v for d in cr.TABLE1_DATASETS
                    for v in cr.PAPER_TABLE1[method][d]]
        assert row(label, t1) == expected, method
    t2 = '**Table 2.**'
    labels = {'softmax': 'Softmax', 'class-balanced': 'Class Balance',
              'focal': 'Focal[23]', 'effective-number': 'EffectiveNumber[18]',
              'seesaw': 'Seesaw[20]', 'ghm-cwap': 'ours'}
    for method, label in labels.items():
        expected = list(cr.PAPER_TABLE2['imagenet-lt'][method]) + list(
            cr.PAPER_TABLE2['inat2017'][method])
        assert row(label, t2) == expected, method
    t3 = '**Table 3.**'
    labels = {'softmax': 'Softmax', 'ghm-cwap-r': 'R',
              'ghm-cwap-a-ura': 'A <sup>URA</sup>',
              'ghm-cwap-r-a-ura': 'R+A <sup>URA</sup>',
              'ghm-cwap': 'R+A <sup>AURA</sup>'}
    for method, label in labels.items():
        assert row(label, t3) == list(cr.PAPER_TABLE3[method]), method
