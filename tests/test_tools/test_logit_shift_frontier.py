"""tools/analysis/logit_shift_frontier.py on predictions files made here:
its rows against a direct computation, its target verdicts, and its
result file as README renders it."""
import importlib.util
import json
import os.path as osp
import sys

import mmengine
import numpy as np
import pytest
import torch

from mmghm.results.files import validate_benchmark
from mmghm.results.tables import benchmark_table

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
COUNTS = [1000, 500, 200, 100, 40, 10]   # groups {0,1}, {2,3}, {4,5}


def _tool():
    # As when run as a script: its folder (benchmark_utils) on sys.path,
    # which tests/conftest.py restores after the test.
    tools = osp.join(ROOT, 'tools', 'analysis')
    sys.path.insert(0, tools)
    spec = importlib.util.spec_from_file_location(
        'logit_shift_frontier', osp.join(tools, 'logit_shift_frontier.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_preds(path, seed, tail_bias):
    """600 test samples, 100 a class; a model whose logits favour the head
    by ``-tail_bias * log n`` on top of a noisy signal."""
    rng = np.random.RandomState(seed)
    target = np.repeat(np.arange(len(COUNTS)), 100)
    logits = rng.randn(600, len(COUNTS)) * 1.5
    logits[np.arange(600), target] += 2.0
    logits += -tail_bias * np.log(COUNTS)
    scores = torch.tensor(logits).softmax(1).float()
    mmengine.dump([dict(gt_label=torch.tensor([int(t)]), pred_score=s)
                   for t, s in zip(target, scores)], str(path))
    return scores.double().numpy(), target


def _groups(tmp_path):
    path = tmp_path / 'groups.json'
    path.write_text(json.dumps(dict(
        class_counts=COUNTS, mode='quantile', thresholds=None,
        group_names=['many', 'medium', 'few'])))
    return path


def _direct(data, tau):
    """Mean over seeds of many / few accuracy at one tau, from scratch."""
    many, few = [], []
    for scores, target in data:
        pred = np.argmax(np.log(scores) - tau * np.log(COUNTS), 1)
        acc = [np.mean(pred[target == c] == c) * 100 for c in range(6)]
        many.append(np.mean(acc[:2]))
        few.append(np.mean(acc[4:]))
    return np.mean(many), np.mean(few)


def test_rows_targets_and_result_file(tmp_path):
    runs = {'CE': -0.6, 'Tail': 0.5}   # CE favours the head, Tail the tail
    data, argv = {}, []
    for label, bias in runs.items():
        paths = [tmp_path / f'{label}_{s}.pkl' for s in (0, 1)]
        data[label] = [_write_preds(p, s + 10 * len(data), bias)
                       for s, p in enumerate(paths)]
        argv += ['--run', label, *map(str, paths)]
    out = tmp_path / 'frontier.json'
    _tool().main(argv + ['--groups', str(_groups(tmp_path)), '--reference',
                         'CE', '--method', 'Tail', '--taus', '-1', '1',
                         '0.1', '--out', str(out)])
    result = validate_benchmark(json.loads(out.read_text()))
    rows = {(r['method'], r['point'].split(',')[0]): r
            for r in result['rows']}

    ce_many, ce_few = _direct(data['CE'], 0.0)
    tail_many, tail_few = _direct(data['Tail'], 0.0)
    floor, needed = ce_many - 1, ce_few + 0.8 * (tail_few - ce_few)
    assert result['target']['floor'] == pytest.approx(floor, abs=0.005)
    assert result['target']['needed'] == pytest.approx(needed, abs=0.005)
    assert rows[('Tail', 'as trained')]['few'] == pytest.approx(
        tail_few, abs=0.005)
    assert rows[('CE', 'as trained')]['many'] == pytest.approx(
        ce_many, abs=0.005)
    # The as-trained method reaches the gain but not the floor; CE itself
    # keeps the floor but not the gain.
    assert tail_many < floor and tail_few >= needed
    assert rows[('Tail', 'as trained')]['target'] == 'missed'
    assert rows[('CE', 'as trained')]['target'] == 'missed'

    for label in runs:
        best = rows[(label, 'best few')]
        grid = [round(-1 + 0.1 * i, 10) for i in range(21)]
        feasible = [(_direct(data[label], t)[1], -abs(t), t) for t in grid
                    if _direct(data[label], t)[0] >= floor]
        few, _, tau = max(feasible)
        assert best['tau'] == pytest.approx(tau)
        assert best['few'] == pytest.approx(few, abs=0.005)
        assert best['many'] >= floor - 0.005
        assert best['target'] == ('met' if few >= needed else 'missed')

    for label in runs:
        fixed = rows[(label, 'tau fixed at 1')]
        many, few = _direct(data[label], 1.0)
        assert fixed['tau'] == 1.0
        assert (fixed['many'], fixed['few']) == (
            pytest.approx(many, abs=0.005), pytest.approx(few, abs=0.005))

    text = benchmark_table(str(out))
    assert text.splitlines()[0] == ('| method | seeds | point | Tau | Top-1 '
                                    '| Many | Medium | Few | target |')
    assert 'oracle: tau chosen on the test set' in text


def test_unknown_label_or_group_is_named(tmp_path):
    path = tmp_path / 'a.pkl'
    _write_preds(path, 0, 0.0)
    groups = str(_groups(tmp_path))
    tool = _tool()
    with pytest.raises(ValueError, match="'CE' is not a --run label"):
        tool.main(['--run', 'A', str(path), '--groups', groups,
                   '--reference', 'CE', '--method', 'A'])
    with pytest.raises(ValueError, match="'rare' is not a group"):
        tool.main(['--run', 'A', str(path), '--groups', groups,
                   '--reference', 'A', '--method', 'A', '--gain', 'rare'])
    with pytest.raises(ValueError, match='--fixed-tau 0.33 is not on'):
        tool.main(['--run', 'A', str(path), '--groups', groups,
                   '--reference', 'A', '--method', 'A', '--fixed-tau',
                   '0.33'])
    with pytest.raises(ValueError, match='must contain 0'):
        tool.main(['--run', 'A', str(path), '--groups', groups,
                   '--reference', 'A', '--method', 'A', '--taus', '0.25',
                   '1', '0.5'])
