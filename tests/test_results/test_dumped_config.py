"""``collect_results.py export`` reads the config dumped in a work dir as
data: a results folder must not run code (a line of the dumped config that
writes a marker file never runs). The attack is built here; MMEngine's own
dump still reads exactly as ``Config.fromfile`` reads it."""
from pathlib import Path

import pytest
from fake_runs import make_run
from mmengine.config import Config

from mmghm.results.cli import main
from mmghm.results.export import DumpedConfigError, read_dumped_config

REPO_ROOT = Path(__file__).resolve().parents[2]
NAME = 'softmax_resnet32_30e_cifar10jpeg-lt-if100'


def test_export_refuses_a_dumped_config_that_is_code(tmp_path, capsys):
    marker = tmp_path / 'marker'
    work_dir = make_run(
        tmp_path / 'runs', 'w', NAME,
        runs=[('20260101_000000', [1, 2, 3], [10.0, 20.0, 30.0], None)],
        config_text=(f'randomness = dict(seed=0)\n'
                     f'train_cfg = dict(max_epochs=3)\n'
                     f'open({str(marker)!r}, "w").write("ran")\n'))
    results = tmp_path / 'results'
    assert main(['export', str(work_dir), '--suite', 's', '--results-dir',
                 str(results), '--source', 'val'],
                root=str(REPO_ROOT)) == 2
    err = capsys.readouterr().err
    assert f'{work_dir / (NAME + ".py")} line 3: only "name = <literal>" ' \
        'lines are read' in err
    assert not marker.exists()  # never run
    assert not results.exists()  # nothing exported


@pytest.mark.parametrize('text, what', [
    ('import os\n', 'only "name = <literal>"'),
    ('x = __import__("os").getcwd()\n', 'is not a literal'),
    ('x = dict(a=open("/etc/hostname").read())\n', 'is not a literal'),
    ('x = dict(**y)\n', 'is not a literal'),
    ('x = [i for i in range(3)]\n', 'is not a literal'),
    ('x = lambda: 0\n', 'is not a literal'),
    ('x = y = 1\n', 'only "name = <literal>"'),
    ('x.y = 1\n', 'only "name = <literal>"'),
    ('x = 2 ** 10\n', 'is not a literal'),
    ('x = {**y}\n', '\\*\\* in a dict'),
    ('x = (\n', 'not a dumped config'),
])
def test_anything_but_literal_assignments_is_refused(tmp_path, text, what):
    path = tmp_path / 'dumped.py'
    path.write_text('a = 1\n' + text)
    with pytest.raises(DumpedConfigError, match=what) as info:
        read_dumped_config(str(path))
    assert str(path) in str(info.value)


def test_mmengine_dump_reads_as_config_fromfile(tmp_path):
    cfg = Config.fromfile(str(
        REPO_ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'))
    cfg.merge_from_dict({'train_cfg.max_epochs': 3, 'optim_wrapper.optimizer.'
                         'lr': -1e-3, 'work_dir': None})
    path = tmp_path / 'dumped.py'
    cfg.dump(str(path))
    data = read_dumped_config(str(path))
    assert data == Config.fromfile(str(path)).to_dict()
    assert data['train_cfg']['max_epochs'] == 3
    assert data['optim_wrapper']['optimizer']['lr'] == -1e-3
    assert data['model']['head']['topk'] == (1, )
    assert data['work_dir'] is None
