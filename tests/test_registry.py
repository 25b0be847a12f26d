"""mmghm's registries, reached from an MMPretrain context as a user config
does (``type='mmghm.Name'``): one module built from every registry, in a
fresh interpreter where mmghm is not yet imported, so that a wrong
``locations`` entry (the module that registers the class never imported)
fails here."""
import subprocess
import sys
import textwrap

import pytest

import mmghm.registry as registry

BUILD_FROM_EVERY_REGISTRY = textwrap.dedent('''
    import sys
    import torch
    from mmengine.registry import (DATASETS, HOOKS, METRICS, MODELS,
                                   MODEL_WRAPPERS, DefaultScope)
    import mmpretrain  # noqa: F401
    DefaultScope.get_instance('user', scope_name='mmpretrain')
    assert 'mmghm' not in sys.modules  # only `locations` may import it
    loss = MODELS.build(dict(type='mmghm.GHMCWAPLoss', num_classes=3))
    backbone = MODELS.build(dict(type='mmghm.CifarResNet', depth=20))
    hook = HOOKS.build(dict(type='mmghm.AURAHook'))
    data = DATASETS.build(dict(type='mmghm.SklearnDigits', split='test'))
    metric = METRICS.build(dict(type='mmghm.GroupAccuracy',
                                class_counts=[5, 3, 1]))
    wrapper_cls = MODEL_WRAPPERS.get('mmghm.DeviceAwareDDP')
    print(type(loss).__name__, type(backbone).__name__, type(hook).__name__,
          type(data).__name__, type(metric).__name__, wrapper_cls.__name__)
''')


def test_every_registry_builds_from_a_host_scope():
    proc = subprocess.run([sys.executable, '-c', BUILD_FROM_EVERY_REGISTRY],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [
        'GHMCWAPLoss', 'CifarResNet', 'AURAHook', 'SklearnDigits',
        'GroupAccuracy', 'DeviceAwareDDP'
    ]


@pytest.mark.parametrize('name', registry.__all__)
def test_registry_scope_and_parent(name):
    reg = getattr(registry, name)
    assert reg.scope == 'mmghm'
    assert reg.parent is not None and reg.parent.scope == 'mmengine'
    assert len(reg.module_dict) > 0, f'{name} registers nothing'
    # every location is an importable module of mmghm
    for location in reg._locations:
        assert location.startswith('mmghm.')
        __import__(location)
