"""Make ``_base_ = 'mmghm::...'`` resolve wherever mmghm is installed.

MMEngine 0.10 resolves a ``pkg::path`` base in three steps:
``MODULE2PACKAGE`` must list the package (a fixed table of OpenMMLab
projects), ``is_installed`` must find it, and ``get_installed_path`` gives
the folder whose ``.mim/`` holds ``model-index.yml`` and ``configs/``.
``get_installed_path`` takes the *distribution's* location and appends the
package name. That is right for a regular install (``site-packages/mmghm``)
but wrong for an editable one (``pip install -e .``, PEP 660): the
distribution's metadata sits in ``site-packages`` while the package stays in
the checkout, so MMEngine looks for ``site-packages/mmghm/.mim`` and fails,
except where Python happens to run from the checkout's root (where a
``mmghm.egg-info`` makes ``pkg_resources`` report the checkout instead).

:func:`register_config_package` adds mmghm to the table and answers
``get_installed_path('mmghm')`` with the folder of the mmghm that is
imported: the checkout for an editable install, ``site-packages/mmghm``
for a regular one. Other packages are answered by MMEngine as before.

One more thing stands between an ``mmghm::`` base and a training: MMEngine
marks every dict of a ``pkg::`` base with ``_scope_='pkg'``, so that it is
built from that package's registries. mmghm's configs are MMPretrain
configs (``default_scope = 'mmpretrain'``; MMPretrain's modules named
plainly, mmghm's as ``mmghm.Name``), and mmghm has registries only for what
it adds, so under ``_scope_='mmghm'`` ``ImageClassifier`` or
``UniversalVisualizer`` are not found. An ``mmghm::`` base is therefore read
like a local base: without ``_scope_``, under the ``default_scope`` the
config sets, which is how its own configs are read.
"""
import os.path as osp
from typing import Callable

__all__ = ['package_dir', 'repo_root', 'register_config_package']

PACKAGE = 'mmghm'


def package_dir() -> str:
    """The folder of the imported mmghm package (holding ``.mim/``)."""
    return osp.dirname(osp.dirname(osp.abspath(__file__)))


def repo_root() -> str:
    """The folder that holds the imported mmghm package: the repository
    root of a checkout (editable install, or ``PYTHONPATH`` at it), where
    ``configs/``, ``tools/`` and ``results/`` are; ``site-packages`` for a
    regular install. The one place the tools find the repository."""
    return osp.dirname(package_dir())


def _wrap(original: Callable[[str], str]) -> Callable[[str], str]:
    if getattr(original, '_mmghm_wrapped', False):
        return original

    def get_installed_path(package: str) -> str:
        if package == PACKAGE:
            return package_dir()
        return original(package)

    get_installed_path._mmghm_wrapped = True  # type: ignore[attr-defined]
    get_installed_path.__doc__ = original.__doc__
    return get_installed_path


def _wrap_cfg_path(original: Callable) -> Callable:
    if getattr(original, '_mmghm_wrapped', False):
        return original

    def get_cfg_path(cfg_path: str, filename: str):
        path, scope = original(cfg_path, filename)
        return path, (None if scope == PACKAGE else scope)

    get_cfg_path._mmghm_wrapped = True  # type: ignore[attr-defined]
    get_cfg_path.__doc__ = original.__doc__
    return get_cfg_path


def register_config_package() -> None:
    """Let MMEngine's configs inherit ``mmghm::`` bases (idempotent)."""
    from mmengine.config import Config
    from mmengine.config import config as config_module
    from mmengine.config import utils as config_utils

    config_utils.MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)
    Config._get_cfg_path = staticmethod(_wrap_cfg_path(Config._get_cfg_path))
    # Config.fromfile calls the name imported into mmengine.config.config;
    # mmengine.hub.get_config the one in mmengine.hub.hub.
    config_module.get_installed_path = _wrap(
        config_module.get_installed_path)
    try:
        from mmengine.hub import hub as hub_module
    except ImportError:  # pragma: no cover - mmengine without hub
        return
    hub_module.get_installed_path = _wrap(hub_module.get_installed_path)
