"""mmcv-lite's MultiScaleDeformableAttention warning: hidden exactly,
only with mmcv-lite, only that message."""
import subprocess
import sys
import warnings

import pytest

from mmghm.utils import mmcv_lite

IMPORT_MODELS = 'import mmpretrain.models'
MESSAGE = 'MultiScaleDeformableAttention'


def _stderr(code: str) -> str:
    proc = subprocess.run([sys.executable, '-W', 'default', '-c', code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.skipif(not mmcv_lite.mmcv_lite_installed(),
                    reason='mmcv-lite is not what is installed')
def test_import_mmghm_hides_the_warning_that_mmcv_lite_prints():
    # Without mmghm the warning is there (the filter is what removes it) ...
    assert MESSAGE in _stderr(IMPORT_MODELS)
    # ... and after `import mmghm` it is not.
    assert MESSAGE not in _stderr('import mmghm; ' + IMPORT_MODELS)


def test_the_filter_is_narrow(monkeypatch):
    monkeypatch.setattr(mmcv_lite, 'mmcv_lite_installed', lambda: True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter('always')
        assert mmcv_lite.filter_mmcv_lite_warning()
        exact = ('Fail to import ``MultiScaleDeformableAttention`` from '
                 '``mmcv.ops.multi_scale_deform_attn``, You should install '
                 '``mmcv`` rather than ``mmcv-lite`` if you need this module.')
        for message, module in (
                (exact, 'mmcv.cnn.bricks.transformer'),  # hidden
                (exact, 'mmcv.other'),  # the same text elsewhere
                ('Fail to import ``Other`` from ``mmcv.ops.x``',
                 'mmcv.cnn.bricks.transformer')):  # another message
            warnings.warn_explicit(message, UserWarning, 'transformer.py',
                                   33, module=module)
    assert [(str(w.message)[:24], w.filename) for w in caught] == [
        ('Fail to import ``MultiSc', 'transformer.py'),
        ('Fail to import ``Other``', 'transformer.py')]
    assert len(caught) == 2


def test_no_filter_with_full_mmcv(monkeypatch):
    monkeypatch.setattr(mmcv_lite, 'mmcv_lite_installed', lambda: False)
    with warnings.catch_warnings():
        before = list(warnings.filters)
        assert not mmcv_lite.filter_mmcv_lite_warning()
        assert warnings.filters == before
