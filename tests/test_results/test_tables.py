"""Markdown tables of run results: from result files (README blocks) and
from work dirs exported in memory (``collect_results.py tables``)."""
import json
import math
from pathlib import Path

import pytest
from fake_runs import make_run, row, write_result

from mmghm.results.cli import find_config, main, report
from mmghm.results.export import export_work_dirs
from mmghm.results.readme import check_files, render_text, update_file
from mmghm.results.runs import load_runs
from mmghm.results.tables import (benchmark_table, comparison_summary,
                                  config_folder_table, paper_rows,
                                  suite_table)

SUITE = 'cifar10jpeg-lt-if100_30e_cpu'
GHM = 'configs/ghm_cwap/ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py'
CE = 'configs/softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py'


def _std(values):
    """Sample standard deviation, written out."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))


@pytest.fixture
def results(tmp_path):
    ghm_top1 = [64.90, 66.52, 65.11]
    for seed, top1 in enumerate(ghm_top1):
        write_result(tmp_path, SUITE, GHM, seed,
                     {'accuracy/top1': top1, 'group_accuracy/many': 78.0,
                      'group_accuracy/few': 50.0 + seed})
    write_result(tmp_path, SUITE, CE, 0,
                 {'accuracy/top1': 56.05, 'group_accuracy/many': 82.65,
                  'group_accuracy/few': 25.83})
    write_result(tmp_path, SUITE, GHM, 0, {'accuracy/top1': 70.0},
                 variant='gamma0.4')
    return tmp_path, ghm_top1


def test_suite_table_mean_std_n(results):
    root, ghm_top1 = results
    text = suite_table(str(root), SUITE, ['top1', 'many', 'medium', 'few'])
    mean = sum(ghm_top1) / 3
    expected = f'{mean:.2f} ± {_std(ghm_top1):.2f}'
    assert row(text, '| Method', 'GHM-CWAP (R + A^AURA)') == [
        '`ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100`', '3', expected,
        '78.00 ± 0.00', '–', '51.00 ± 1.00']
    assert row(text, '| Method', 'Softmax') == [
        '`softmax_resnet32_30e_cifar10jpeg-lt-if100`', '1', '56.05', '82.65',
        '–', '25.83']
    assert row(text, '| Method', 'GHM-CWAP (R + A^AURA) [gamma0.4]')[2] == \
        '70.00'
    # Method order: Softmax first, GHM-CWAP and its variant after.
    lines = [line for line in text.splitlines() if line.startswith('| ')]
    assert [line.split('|')[1].strip() for line in lines[1:]] == [
        'Softmax', 'GHM-CWAP (R + A^AURA)',
        'GHM-CWAP (R + A^AURA) [gamma0.4]']
    assert 'How measured: `tools/train.py`, 30 epochs, evaluated: last ' \
        'epoch; data: digits; device: cpu: 2-core x86_64, 1 thread; torch ' \
        '2.14.1, fp32; 2026-11-28, commit abc1234def.' in text


def test_suite_table_options(results):
    root, _ = results
    text = suite_table(str(root), SUITE, ['top1'],
                       configs=['ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100'],
                       paper=True, wall=True)
    # The paper's CIFAR-10-LT IF 100 cell, and mean wall time 101 s.
    assert row(text, '| Method', 'GHM-CWAP (R + A^AURA)')[-2:] == [
        '75.39', '1.7 min']
    assert 'Softmax' not in text


def test_empty_suite_says_not_yet_run(tmp_path):
    text = suite_table(str(tmp_path), 'cifar10jpeg-lt-if100_30e_cpu')
    assert text.startswith('Not yet run: no result files in')
    assert not any(c.isdigit() for c in text.split('cpu')[-1])


def test_benchmark_table_any_columns(tmp_path):
    path = tmp_path / 'losses_cpu.json'
    path.write_text(json.dumps(dict(
        schema='mmghm.benchmark/1', benchmark='losses', device='cpu x2',
        torch='2.14.1', measured=dict(rounds=20),
        columns=['loss', {'key': 'r', 'label': '128x10',
                          'format': '{:.2f}x'}, 'ms'],
        rows=[dict(loss='CE', r=1.0, ms=0.104),
              dict(loss='GHM-CWAP', r=2.684)])))
    text = benchmark_table(str(path))
    assert row(text, '| loss', 'CE') == ['1.00x', '0.10']
    assert row(text, '| loss', 'GHM-CWAP') == ['2.68x', '–']
    assert 'device cpu x2, torch 2.14.1; rounds: 20' in text
    path.write_text(json.dumps(dict(schema='x')))
    with pytest.raises(ValueError, match='schema must be'):
        benchmark_table(str(path))


def test_config_folder_table(results, tmp_path):
    root, ghm_top1 = results
    configs = tmp_path / 'configs' / 'ghm_cwap'
    configs.mkdir(parents=True)
    (configs / 'metafile.yml').write_text(
        'Models:\n'
        '  - Name: a\n    Config: configs/ghm_cwap/ghm-cwap_resnet32_200e_'
        'cifar10-lt-if100.py\n'
        f'  - Name: b\n    Config: {GHM}\n')
    text = config_folder_table(str(root), str(tmp_path / 'configs'),
                               'ghm_cwap')
    lines = text.splitlines()
    assert lines[2].startswith(
        '| [ghm-cwap_resnet32_200e_cifar10-lt-if100](./ghm-cwap_resnet32_'
        '200e_cifar10-lt-if100.py) | 75.39 | not yet run |')
    mean = sum(ghm_top1) / 3
    assert f'{mean:.2f} ± {_std(ghm_top1):.2f} (n=3; Many 78.00 ± 0.00, ' \
        'Few 51.00 ± 1.00)' in lines[3]
    assert f'[{SUITE}](../../{SUITE}/)' in lines[3]
    assert '[gamma0.4]' in lines[4] and '70.00 (n=1)' in lines[4]


def test_readme_blocks_regenerate_and_check(results, tmp_path):
    root, _ = results
    repo = tmp_path / 'repo'
    (repo / 'results').mkdir(parents=True)
    (root / SUITE).rename(repo / 'results' / SUITE)
    readme = repo / 'README.md'
    readme.write_text(
        'intro\n'
        f'<!-- results:suite suite={SUITE} metrics=top1 -->\n'
        'stale | 99.99\n<!-- /results -->\n'
        '<!-- results:suite suite=not-run -->\n<!-- /results -->\nend\n')
    assert check_files(str(repo)) == ['README.md']
    assert update_file(str(readme), str(repo))
    text = readme.read_text()
    assert '99.99' not in text and 'Not yet run' in text
    assert text.startswith('intro\n<!-- results:suite') and \
        text.endswith('<!-- /results -->\nend\n')
    assert check_files(str(repo)) == []
    # Editing a generated number makes the check fail again.
    readme.write_text(text.replace('| 1 |', '| 2 |'))
    assert check_files(str(repo)) == ['README.md']


@pytest.mark.parametrize('block, message', [
    ('<!-- results:nope a=1 -->\n<!-- /results -->', 'unknown block kind'),
    ('<!-- results:suite -->\n<!-- /results -->', 'needs suite=NAME'),
    ('<!-- results:suite suite=a colour=red -->\n<!-- /results -->',
     r"options \['colour'\] are not known"),
    ('<!-- results:suite suite=a -->\nno end', 'has no matching'),
])
def test_bad_blocks_name_the_line(tmp_path, block, message):
    with pytest.raises(ValueError, match=message):
        render_text('x\n' + block, str(tmp_path / 'R.md'), str(tmp_path))


def test_paper_layout_report_from_work_dirs(tmp_path):
    c10 = 'cifar10-lt-if100'
    for seed, top1 in ((0, 69.0), (1, 71.0)):
        make_run(tmp_path, f'ce{seed}', f'softmax_resnet32_200e_{c10}',
                 [('20240101_000000', [1], [top1], None)])
    groups = {'many': 64.0, 'medium': 49.0, 'few': 26.0, 'rare': math.nan}
    make_run(tmp_path, 'inet', 'ghm-cwap-r_resnet50_90e_imagenet-lt-if100',
             [('20240101_000000', [90], [38.5], groups)])
    # Liu et al.'s ImageNet-LT lists are not the paper's data: no paper row
    make_run(tmp_path, 'liu', 'ghm-cwap-r_resnet50_90e_imagenet-lt',
             [('20240101_000000', [90], [41.0], groups)])
    make_run(tmp_path, 'scratch', 'my_experiment',
             [('20240101_000000', [1], [10.0], None)])
    results, warnings = export_work_dirs(load_runs([str(tmp_path)]))
    assert len(warnings) == 1 and 'does not follow' in warnings[0]
    text = report(paper_rows(results), 'auto', 'last')
    t1 = '### Table 1: CIFAR-10-LT, resnet32, 200e'
    assert row(text, t1, 'Softmax') == [
        '– / 59.76', '70.00 ± 1.41 (n=2) / 71.74', '– / 86.69', '– / 93.00']
    assert row(text, t1, 'GHM-CWAP (R + A^AURA)')[1] == '– / 75.39'
    t3 = '### Table 3: ablation on ImageNet-LT, resnet50, 90e'
    assert row(text, t3, 'R (intra only, URA)') == [
        '64.00 / 63.51', '49.00 / 48.69', '26.00 / 24.37', '– / 15.52',
        '38.50 / 38.02']
    assert text.count('### Table 3') == 1 and '41.00 /' not in text


def test_benchmark_blocks_by_name_cover_every_device(tmp_path):
    bench = tmp_path / 'results' / 'benchmarks'
    bench.mkdir(parents=True)
    readme = tmp_path / 'README.md'
    readme.write_text('<!-- results:benchmark benchmark=losses -->\n'
                      '<!-- /results -->\n')
    text, _ = render_text(readme.read_text(), str(readme), str(tmp_path))
    assert 'Not yet measured: `results/benchmarks/losses_<device>.json`' \
        in text
    for device in ('cpu', 'h200'):
        (bench / f'losses_{device}.json').write_text(json.dumps(dict(
            schema='mmghm.benchmark/1', benchmark='losses', device=device,
            torch='2', columns=['loss'], rows=[dict(loss=device)])))
    text, _ = render_text(readme.read_text(), str(readme), str(tmp_path))
    assert 'How measured: device cpu' in text
    assert 'How measured: device h200' in text
    with pytest.raises(ValueError, match='file=PATH or benchmark=NAME'):
        render_text('<!-- results:benchmark -->\n<!-- /results -->',
                    str(readme), str(tmp_path))


BS = ('configs/balanced_softmax/'
      'balanced-softmax_resnet32_30e_cifar10jpeg-lt-if100.py')


def test_comparison_summary_words_and_numbers_follow_the_files(results):
    """GHM-CWAP (3 seeds, 64.90 / 66.52 / 65.11) against CE (one seed,
    56.05) and Balanced Softmax (two seeds): 'above' / 'below' / 'level
    with' by the larger seed spread; the Few gain and the Many drop
    against the baseline, all from the means as printed."""
    root, ghm_top1 = results
    ghm = 'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100'
    ce = 'softmax_resnet32_30e_cifar10jpeg-lt-if100'
    bs = 'balanced-softmax_resnet32_30e_cifar10jpeg-lt-if100'
    for seed, top1 in enumerate([69.0, 70.0]):
        write_result(root, SUITE, BS, seed, {'accuracy/top1': top1,
                                             'group_accuracy/many': 72.0,
                                             'group_accuracy/few': 66.0})
    mean = round(sum(ghm_top1) / 3, 2)  # 65.51
    text = comparison_summary(str(root), SUITE, ghm, ce, [bs])
    first, second = text.splitlines()
    assert first.startswith('- **Does it work?** On digits (30 epochs, '
                            'mean top-1 of 1 / 2 / 3 seeds, [files](')
    assert f'GHM-CWAP (R + A^AURA) reaches {mean:.2f}:' in first
    assert f'**above** Softmax (56.05, {mean - 56.05:+.2f})' in first
    assert f'**below** Balanced Softmax (69.50, {mean - 69.50:+.2f})' in first
    # Few: GHM-CWAP 50, 51, 52 -> 51.00; CE 25.83. Many: 78.00 vs 82.65.
    assert second == ('- **Where:** on the Few classes 51.00 against 25.83 '
                      'for Softmax (+25.17); on the Many classes it '
                      '**loses** 4.65 points (78.00 against 82.65).')
    # Within the larger spread (0.87 of GHM-CWAP's seeds): level with.
    write_result(root, SUITE, BS, 2, {'accuracy/top1': 58.0}, variant='x')
    close = 'ghm-cwap-r_resnet32_30e_cifar10jpeg-lt-if100'
    write_result(root, SUITE, 'configs/ghm_cwap/' + close + '.py', 0,
                 {'accuracy/top1': mean + 0.5, 'group_accuracy/many': 1.0,
                  'group_accuracy/few': 1.0})
    assert '**level with** R (intra only, URA)' in comparison_summary(
        str(root), SUITE, ghm, ce, [close])
    with pytest.raises(ValueError, match="no results for \\['nope'\\]"):
        comparison_summary(str(root), SUITE, ghm, ce, ['nope'])


def test_summary_block_is_rendered_and_checked(results, tmp_path):
    root, _ = results
    repo = tmp_path / 'repo'
    (repo / 'results').mkdir(parents=True)
    (root / SUITE).rename(repo / 'results' / SUITE)
    root = repo
    readme = root / 'README.md'
    ghm = 'ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100'
    ce = 'softmax_resnet32_30e_cifar10jpeg-lt-if100'
    readme.write_text(f'<!-- results:summary suite={SUITE} method={ghm} '
                      f'baseline={ce} -->\nstale\n<!-- /results -->\n')
    assert check_files(str(root)) == ['README.md']
    update_file(str(readme), str(root))
    assert check_files(str(root)) == []
    text = readme.read_text()
    assert '**above** Softmax (56.05,' in text
    assert f'[files](results/{SUITE}/)' in text
    readme.write_text(f'<!-- results:summary suite={SUITE} -->\n'
                      '<!-- /results -->\n')
    with pytest.raises(ValueError, match='needs method=..., baseline=...'):
        update_file(str(readme), str(root))


DEMO = 'ghm-cwap_resnet20_demo_digits-lt'
REPO = str(Path(__file__).resolve().parents[2])


def _dump(max_epochs):
    """A dumped config (as MMEngine writes it) that differs from the demo
    config file at most in max_epochs."""
    return ('train_cfg = dict(by_epoch=True, max_epochs={}, val_interval=5)\n'
            "work_dir = '/somewhere/else'\n".format(max_epochs))


def _demo_runs(root):
    """The demo config run five times: 30 epochs as configured, 2 and twice
    4 epochs by --cfg-options, and a run killed at epoch 10 of 30."""
    make_run(root, 'full', DEMO, [('20240101_000000', [5, 30],
                                   [90.0, 96.0], None)],
             config_text=_dump(30))
    make_run(root, 'two', DEMO, [('20240101_000000', [2], [10.0], None)],
             config_text=_dump(2))
    for i, top1 in enumerate((20.0, 30.0)):
        make_run(root, f'four{i}', DEMO,
                 [('20240101_000000', [4], [top1], None)],
                 config_text=_dump(4))
    make_run(root, 'killed', DEMO,
             [('20240101_000000', [5, 10], [50.0, 60.0], None)],
             config_text=_dump(30))
    runs = load_runs([str(root)])
    assert len(runs) == 5
    return runs


def _find(stem):
    return find_config(stem, REPO)


def test_tables_average_only_runs_configured_alike(tmp_path):
    """Runs of 30, 2, 4 and 4 epochs are not one row: the 30-epoch run is
    the config's row; the 2-epoch run and the two 4-epoch runs are rows of
    their own, named by the changed option; the killed run is left out
    with a warning, or is a row of its own with allow_unfinished."""
    runs = _demo_runs(tmp_path)
    results, warnings = export_work_dirs(runs, find_config=_find)
    rows = paper_rows(results)
    assert sorted(rows) == [
        DEMO, f'{DEMO} [train_cfg.max_epochs=2]',
        f'{DEMO} [train_cfg.max_epochs=4]']
    assert rows[DEMO].columns['overall'].values == [96.0]
    assert rows[DEMO].overrides == ()
    four = rows[f'{DEMO} [train_cfg.max_epochs=4]']
    assert four.num_runs == 2
    assert sorted(four.columns['overall'].values) == [20.0, 30.0]
    assert rows[f'{DEMO} [train_cfg.max_epochs=2]'].columns[
        'overall'].values == [10.0]
    (killed, ) = warnings
    assert 'killed: skipped, unfinished: its last validation is at epoch ' \
        '10 of 30' in killed
    text = report(rows, 'auto', 'last')
    assert f'| `{DEMO}` | 1 | 96.00 |' in text
    assert f'| `{DEMO} [train_cfg.max_epochs=4]` | 2 | 25.00 ± 7.07 |' in text
    # With allow_unfinished the killed run is a row of its own.
    results, warnings = export_work_dirs(runs, find_config=_find,
                                         allow_unfinished=True)
    rows = paper_rows(results)
    assert warnings == []
    assert rows[f'{DEMO} [unfinished: epoch 10 of 30]'].columns[
        'overall'].values == [60.0]
    assert rows[DEMO].columns['overall'].values == [96.0]


def test_tables_command_warns_of_runs_kept_apart(tmp_path, capsys):
    _demo_runs(tmp_path)
    assert main(['tables', str(tmp_path)], root=REPO) == 0
    out, err = capsys.readouterr()
    assert f'| `{DEMO}` | 1 | 96.00 |' in out
    warnings = err.splitlines()
    assert sum('killed: skipped, unfinished' in w for w in warnings) == 1
    apart = [w for w in warnings if 'configured differently' in w]
    assert [w.split(': ')[1] for w in apart] == [
        f'{DEMO} [train_cfg.max_epochs=4]', f'{DEMO} [train_cfg.max_epochs=2]']
    assert main(['tables', str(tmp_path), '--allow-unfinished'],
                root=REPO) == 0
    out, err = capsys.readouterr()
    assert f'| `{DEMO} [unfinished: epoch 10 of 30]` | 1 | 60.00 |' in out
    assert err.count('configured differently') == 3
    assert 'skipped' not in err


def test_tables_refuse_a_dumped_config_that_is_not_data(tmp_path):
    make_run(tmp_path, 'evil', DEMO, [('20240101_000000', [30], [96.0],
                                       None)],
             config_text='import os\nos.system("touch marker")\n')
    results, warnings = export_work_dirs(load_runs([str(tmp_path)]))
    assert results == []
    assert len(warnings) == 1 and 'skipped' in warnings[0]
    assert not (tmp_path / 'marker').exists()


def test_paper_block_lays_result_files_out_like_the_paper(results, tmp_path):
    """The paper's layout is a block kind of the README renderer: the
    result files' GHM-CWAP row beside the paper's CIFAR-10-LT IF 100 cell;
    a variant is a row of its own, out of the paper's table."""
    root, ghm_top1 = results
    readme = root / 'README.md'
    readme.write_text(f'<!-- results:paper suite={SUITE} -->\n'
                      '<!-- /results -->\n')
    repo = tmp_path / 'repo'
    (repo / 'results').mkdir(parents=True)
    (root / SUITE).rename(repo / 'results' / SUITE)
    text, count = render_text(readme.read_text(), str(repo / 'README.md'),
                              str(repo))
    assert count == 1
    t1 = '### Table 1: CIFAR-10-LT (JPEG copy), resnet32, 30e'
    mean = sum(ghm_top1) / 3
    assert row(text, t1, 'GHM-CWAP (R + A^AURA)') == [
        f'{mean:.2f} ± {_std(ghm_top1):.2f} (n=3) / 75.39']
    assert row(text, t1, 'Softmax') == ['56.05 / 71.74']
    assert '70.00' not in text.split(t1)[1].split('###')[0]
    assert row(text, '### All runs (ours)',
               '`ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100 [gamma0.4]`') == [
                   '1', '70.00', '–', '–']
    assert 'How measured: `tools/train.py`, 30 epochs' in text
    assert f'files: [`results/{SUITE}/`](results/{SUITE}/)' in text
    text, _ = render_text('<!-- results:paper suite=none -->\n'
                          '<!-- /results -->\n', str(repo / 'README.md'),
                          str(repo))
    assert 'Not yet run' in text


def test_every_config_of_the_repository_has_a_display_name():
    """Each config's method is a row label a reader can read (an unknown
    method would be shown as its raw config prefix, sorted last)."""
    from mmghm.results.names import METHOD_NAMES, parse_config_name
    root = Path(__file__).resolve().parents[2] / 'configs'
    methods = {
        parse_config_name(p.stem).method
        for p in root.glob('*/*.py') if p.parent.name != '_base_'
    }
    assert len(methods) >= 25
    assert sorted(methods - set(METHOD_NAMES)) == []
