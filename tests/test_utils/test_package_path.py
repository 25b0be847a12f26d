"""Where the imported package and the repository are: one function each
(``mmghm.utils.package_dir`` / ``repo_root``), used by the tools and by
``code_commit``'s default."""
import os.path as osp
import subprocess

import pytest

import mmghm
from mmghm.utils import package_dir, repo_root
from mmghm.utils.provenance import code_commit

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_package_dir_is_the_folder_of_the_imported_package():
    assert package_dir() == osp.dirname(osp.abspath(mmghm.__file__))


def test_repo_root_is_the_folder_above_the_package():
    assert repo_root() == osp.dirname(package_dir())
    # this checkout: the tests run from the repository they test
    assert osp.samefile(repo_root(), osp.dirname(TESTS))
    for entry in ('setup.py', 'configs', 'tools'):
        assert osp.exists(osp.join(repo_root(), entry)), entry


def test_code_commit_defaults_to_the_checkout_of_the_imported_package():
    head = subprocess.run(['git', '-C', repo_root(), 'rev-parse', 'HEAD'],
                          capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip('a copy of the repository without .git')
    assert code_commit().split('-')[0] == head.stdout.strip()
