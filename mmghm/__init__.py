"""mmghm: GHM-CWAP and long-tailed recognition baselines for MMPretrain."""
import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

MMENGINE_MIN, MMENGINE_MAX = '0.8.3', '1.0.0'
if not (digit_version(MMENGINE_MIN) <= digit_version(mmengine.__version__)
        < digit_version(MMENGINE_MAX)):
    raise ImportError(
        f'mmghm needs mmengine>={MMENGINE_MIN},<{MMENGINE_MAX}, but '
        f'mmengine=={mmengine.__version__} is installed. '
        f"Run: pip install 'mmengine>={MMENGINE_MIN},<{MMENGINE_MAX}'")

try:
    import mmcv
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        'mmghm needs mmcv>=2.0,<2.4. For classification only: '
        "pip install 'mmcv-lite>=2.0,<2.4'; for detection/segmentation the "
        'full mmcv with compiled ops (see README).') from e
if not (digit_version('2.0.0') <= digit_version(mmcv.__version__)
        < digit_version('2.4.0')):
    raise ImportError(f'mmghm needs mmcv>=2.0.0,<2.4.0, but mmcv=='
                      f'{mmcv.__version__} is installed.')

# mmcv-lite warns on every import that its (unneeded) compiled ops are
# missing; hide exactly that warning, before anything imports mmcv.cnn.
from .utils.mmcv_lite import filter_mmcv_lite_warning  # noqa: E402

filter_mmcv_lite_warning()

from .utils import (install_checkpoint_loader,  # noqa: E402
                    register_checkpoint_safe_globals)

# Let torch>=2.6 `weights_only` loading accept the data MMEngine checkpoints
# hold, through checked stand-ins that build nothing else, and send every
# checkpoint MMEngine loads through mmghm's checks (utils/checkpoint.py).
register_checkpoint_safe_globals()
install_checkpoint_loader()

# `_base_ = 'mmghm::...'` in configs, from any folder, for editable and
# regular installs (MMEngine 0.10 knows only its own table of packages, and
# looks for an editable install's configs in the wrong folder).
from .utils.package_path import register_config_package  # noqa: E402

register_config_package()

from . import datasets, engine, evaluation, models, visualization  # noqa

__all__ = ['__version__', 'version_info']
