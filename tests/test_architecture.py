"""mmghm's layers point down (docs/architecture.md): the contract in
``.importlinter`` is kept, checked by import-linter as ``lint-imports``
does, and no module of mmghm imports the package root."""
import configparser
import os.path as osp

import grimp
import pytest
from importlinter.cli import lint_imports

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, '.importlinter')


def layers():
    """The contract's layers, top first, each a list of sibling names."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    text = parser['importlinter:contract:layers']['layers']
    return [[name.strip() for name in line.split('|')]
            for line in text.split('\n') if line.strip()]


def test_the_layer_contract_is_kept(capsys):
    assert lint_imports(config_filename=CONFIG, no_cache=True) == 0, \
        capsys.readouterr().out
    out = capsys.readouterr().out
    assert 'KEPT' in out and 'BROKEN' not in out


def test_every_subpackage_is_in_a_layer():
    placed = {name for line in layers() for name in line}
    graph = grimp.build_graph('mmghm', cache_dir=None)
    children = {m.split('.')[1] for m in graph.find_children('mmghm')}
    assert children - placed == {'version'}


def make_package(root, name, upward):
    """A package ``name`` with mmghm's layers as subpackages, each empty,
    but for one import ``upward = (importer, imported)``."""
    for line in layers():
        for layer in line:
            folder = root / name / layer
            folder.mkdir(parents=True)
            (folder / '__init__.py').write_text('')
    (root / name / '__init__.py').write_text('')
    importer, imported = upward
    (root / name / importer / 'uses.py').write_text(
        f'from {name}.{imported} import something  # noqa\n')


@pytest.mark.parametrize('upward', [('utils', 'models'),
                                    ('models', 'datasets'),
                                    ('results', 'engine'),
                                    ('visualization', 'evaluation')])
def test_the_contract_refuses_an_import_that_points_up_or_across(
        tmp_path, monkeypatch, capsys, upward):
    make_package(tmp_path, 'layered', upward)
    # mmghm's contract, applied to the package ``layered``
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    parser['importlinter']['root_package'] = 'layered'
    parser['importlinter:contract:layers']['containers'] = 'layered'
    with open(tmp_path / 'contract.ini', 'w') as f:
        parser.write(f)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert lint_imports(config_filename=str(tmp_path / 'contract.ini'),
                        no_cache=True) == 1
    out = capsys.readouterr().out
    assert (f'layered.{upward[0]} is not allowed to import '
            f'layered.{upward[1]}') in out


def test_no_module_imports_the_package_root():
    """``import mmghm`` inside mmghm runs nothing new (the root is imported
    before any of its modules) and would hide which layer a module needs;
    a module imports what it uses, e.g. ``register_checkpoint_safe_globals``
    from ``mmghm.utils.checkpoint``."""
    graph = grimp.build_graph('mmghm', cache_dir=None)
    importers = {
        m: [d['line_contents'] for d in
            graph.get_import_details(importer=m, imported='mmghm')]
        for m in graph.find_modules_that_directly_import('mmghm')
    }
    assert importers == {}
