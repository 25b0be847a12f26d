"""Registries of mmghm, children of MMEngine's roots.

Only the kinds of module mmghm provides have a registry (pictures go through
the host's own visualizer, transforms are MMPretrain's).

Host libraries (MMPretrain, MMDetection, MMSegmentation) reach these modules
with ``type='mmghm.Name'`` and ``custom_imports=dict(imports=['mmghm'])``.
``locations`` tells MMEngine which modules to import so that every class is
registered before it is looked up.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

__all__ = [
    'MODELS', 'MODEL_WRAPPERS', 'HOOKS', 'DATASETS', 'METRICS', 'DATA_SAMPLERS'
]

#: Losses, backbones and heads.
MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope='mmghm',
    locations=['mmghm.models'])
#: Model wrappers (CPU-capable DDP).
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='mmghm',
    locations=['mmghm.engine'])
#: Training hooks (AURA update, class statistics, DRW, visualisation).
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope='mmghm',
    locations=['mmghm.engine'])
#: Long-tailed dataset wrappers and data set readers.
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope='mmghm',
    locations=['mmghm.datasets'])
#: Evaluation metrics (group accuracy).
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope='mmghm',
    locations=['mmghm.evaluation'])
#: Class-aware samplers (class-balanced, square-root, progressive).
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mmghm',
    locations=['mmghm.datasets'])
