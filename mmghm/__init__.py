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

from .utils import register_checkpoint_safe_globals  # noqa: E402

# Let torch>=2.6 `weights_only` loading accept the data MMEngine checkpoints
# hold, through checked stand-ins that build nothing else (utils/checkpoint.py).
register_checkpoint_safe_globals()

# MMEngine 0.10 resolves `_base_ = 'pkg::path'` only for the packages in its
# hard-coded PKG2PROJECT table; add mmghm so that configs can inherit
# `mmghm::...` once mmghm is imported (tools/train.py and tools/test.py
# import it before reading the config).
from mmengine.config import utils as _config_utils  # noqa: E402

_config_utils.PKG2PROJECT.setdefault('mmghm', 'mmghm')

from . import datasets, engine, evaluation, models, visualization  # noqa

__all__ = ['__version__', 'version_info']
