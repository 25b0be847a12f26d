"""Quiet the one warning that mmcv-lite prints on every import.

With mmcv-lite (mmcv without compiled ops, all that classification needs),
importing ``mmcv.cnn`` (which MMPretrain's models do) warns::

    UserWarning: Fail to import ``MultiScaleDeformableAttention`` from
    ``mmcv.ops.multi_scale_deform_attn``, You should install ``mmcv``
    rather than ``mmcv-lite`` if you need this module.

mmghm needs no mmcv op, so the warning only says what the install already
chose. :func:`filter_mmcv_lite_warning` hides exactly that message, from
exactly that module, and only when mmcv-lite is what is installed; every
other warning, and this one with the full mmcv, stays as it is.
"""
import importlib.metadata
import importlib.util
import warnings

#: The message (a regular expression matched at its start).
MSDA_WARNING = (r'Fail to import ``MultiScaleDeformableAttention`` from '
                r'``mmcv\.ops\.multi_scale_deform_attn``')
#: The module that issues it.
MSDA_WARNING_MODULE = r'mmcv\.cnn\.bricks\.transformer'


def mmcv_lite_installed() -> bool:
    """Whether the installed mmcv is mmcv-lite: its distribution is
    installed and mmcv's compiled ops (``mmcv._ext``) are not."""
    try:
        importlib.metadata.distribution('mmcv-lite')
    except importlib.metadata.PackageNotFoundError:
        return False
    try:
        return importlib.util.find_spec('mmcv._ext') is None
    except (ImportError, ValueError):
        return True


def filter_mmcv_lite_warning() -> bool:
    """Ignore mmcv-lite's MultiScaleDeformableAttention warning.

    Call it before ``mmcv.cnn`` is first imported (``import mmghm`` does).

    Returns:
        bool: Whether the filter was installed (only with mmcv-lite).
    """
    if not mmcv_lite_installed():
        return False
    warnings.filterwarnings('ignore', message=MSDA_WARNING,
                            category=UserWarning, module=MSDA_WARNING_MODULE)
    return True
