"""Every experiment config loads, builds its model, and says what its name
says; the paper's grid is complete; the schedules are the documented ones.

No data is needed except for the digits demo (scikit-learn ships it); the
CIFAR-10 JPEG config on real data is checked in tests/test_datasets.
"""
import copy
import functools
import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmghm  # noqa: F401  (registers mmghm's modules)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / 'configs'
# configs/_base_ holds fragments; configs/downstream (MMDetection and
# MMSegmentation configs) is tested in tests/test_downstream; configs/own_data
# (templates for a user's image folders) in tests/test_own_data.py;
# configs/decoupling (stage-2 and re-sampling configs over the loss configs,
# hand-written metafile) in tests/test_engine/test_decoupling_configs.py.
EXCLUDED = ('_base_', 'downstream', 'own_data', 'decoupling')
CONFIGS = sorted(
    p for p in CONFIG_DIR.rglob('*.py')
    if p.relative_to(CONFIG_DIR).parts[0] not in EXCLUDED)
NAMES = {p.stem: p for p in CONFIGS}


def _load_module(name: str, rel: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _paper_numbers():
    """The paper's numbers and the config-name parser (mmghm.results),
    under the names used below."""
    from types import SimpleNamespace

    from mmghm.results import names, paper
    tables = paper.load_paper_tables()
    return SimpleNamespace(
        TABLE1_IFS=tables.table1_ifs, TABLE1_DATASETS=tables.table1_datasets,
        PAPER_TABLE1=tables.table1, PAPER_TABLE2=tables.table2,
        PAPER_TABLE3=tables.table3, parse_config_name=names.parse_config_name)


collect = _paper_numbers()
generate = _load_module('generate_configs', 'tools/misc/generate_configs.py')

#: Config name prefix -> (folder, loss class, attributes of the built loss).
EXPECTED = {
    'softmax': ('softmax', 'CrossEntropyLoss', {}),
    'class-balanced': ('class_balanced', 'ClassBalancedLoss', {}),
    'focal': ('focal', 'SoftmaxFocalLoss', {'gamma': 2.0}),
    'ghmc': ('ghmc', 'GHMCLoss', {'bins': 30, 'momentum': 0.75}),
    'effective-number': ('effective_number', 'EffectiveNumberLoss', {
        'beta': 0.9999, 'loss_type': 'softmax'}),
    'equalization': ('equalization', 'EqualizationLoss', {
        'lambda_': 5e-3, 'gamma': 0.9}),
    'seesaw': ('seesaw', 'DistSeesawLoss', {'p': 0.8, 'q': 2.0}),
    'seesaw-mmpretrain': ('seesaw', 'SeesawLoss', {'p': 0.8, 'q': 2.0}),
    'ldam-drw': ('ldam_drw', 'LDAMLoss', {'max_m': 0.5, 's': 30.0}),
    'balanced-softmax': ('balanced_softmax', 'BalancedSoftmaxLoss', {
        'tau': 1.0}),
    # Cross-entropy training; the head adjusts the predictions.
    'softmax-la': ('logit_adjustment', 'CrossEntropyLoss', {}),
    'ghm-cwap': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': True, 'inter': True, 'adaptive': True,
        'intra_weight': 'tempered', 'num_bins': 30, 'alpha': 0.9,
        'gamma': 0.8}),
    # Table 3: R = intra only (uniform bins), A^URA = inter only with
    # uniform bins, R + A^URA; the full method is R + A^AURA.
    'ghm-cwap-r': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': True, 'inter': False, 'adaptive': False}),
    'ghm-cwap-a-ura': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': False, 'inter': True, 'adaptive': False}),
    'ghm-cwap-r-a-ura': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': True, 'inter': True, 'adaptive': False}),
    'ghm-cwap-a-aura': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': False, 'inter': True, 'adaptive': True}),
    'ghm-cwap-literal': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': True, 'inter': True, 'adaptive': True,
        'intra_weight': 'paper'}),
    # Options beyond the paper: two-sided margins; deferred start at 80%.
    'ghm-cwap-2sided': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': True, 'inter': True, 'adaptive': True, 'gamma': 1.0,
        'margin': 'two_sided', 'start_epoch': 0}),
    'ghm-cwap-deferred': ('ghm_cwap', 'GHMCWAPLoss', {
        'intra': True, 'inter': True, 'adaptive': True, 'gamma': 0.8,
        'margin': 'one_sided', 'start_epoch': 24}),
}
# Hand-written: GHM-CWAP plus gradient-norm histogram logging.
EXPECTED['ghm-cwap-vis'] = EXPECTED['ghm-cwap']

#: {backbone} -> (backbone class, depth).
BACKBONES = {
    'resnet20': ('CifarResNet', 20),
    'resnet32': ('CifarResNet', 32),
    'resnet50': ('ResNet', 50),
}

#: {data} (without -if<N>) -> (classes, train data set type, epochs by
#: schedule).
DATA = {
    'cifar10-lt': (10, 'CIFAR10'),
    'cifar100-lt': (100, 'CIFAR100'),
    'tinyimagenet-lt': (200, 'mmghm.TinyImageNet'),
    'cifar10jpeg-lt': (10, 'CustomDataset'),
    'digits-lt': (10, 'mmghm.SklearnDigits'),
    'imagenet-lt': (1000, 'mmghm.ImageNetLT'),
    'inat2017': (5089, 'mmghm.INaturalist'),
}
#: Data sets whose long-tailed construction (``-if<N>``) wraps another base
#: type: the paper's ImageNet-LT is ImageNet-2012 made long-tailed.
DATA_LT = {'imagenet-lt': (1000, 'ImageNet')}
#: Effective Number with Cui et al.'s large-scale setting.
LARGE_SCALE_EN = {'beta': 0.999, 'loss_type': 'focal', 'gamma': 0.5}
EPOCHS = {'200e': 200, '30e': 30, '90e': 90, 'demo': 30}


@functools.lru_cache(maxsize=None)
def load(name: str) -> Config:
    return Config.fromfile(str(NAMES[name]))


def build_model(cfg: Config) -> torch.nn.Module:
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(cfg.model))


def loss_module(model) -> torch.nn.Module:
    return model.head.loss_module


def test_configs_found():
    generated = {generate.config_name(m, d) for m, d in generate.grid()}
    # Table 1 (96) + Table 2 (12) + Table 3 (3) + LDAM-DRW / Balanced
    # Softmax / post-hoc logit adjustment on CIFAR-10/100-LT (24) + CPU
    # comparison (19, two of them the options beyond the paper) + demo (2)
    # + Tables 2-3 on the paper's ImageNet-LT construction (9) + the
    # CIFAR-10 block of Table 1 with the three extra methods on the JPEG
    # copy for GPU runs (44).
    assert len(generated) == 209
    hand_written = {name for configs in generate.HAND_WRITTEN.values()
                    for name, _, _ in configs}
    assert set(NAMES) == generated | hand_written


@pytest.mark.parametrize('name', sorted(NAMES))
def test_config_builds_and_matches_its_name(name):
    cfg = load(name)
    parts = collect.parse_config_name(name)
    folder, loss_type, attrs = EXPECTED[name.split('_')[0]]
    if parts.method == 'effective-number' and parts.dataset in (
            'imagenet-lt', 'inat2017'):
        attrs = LARGE_SCALE_EN
    assert NAMES[name].parent.name == folder

    # Runtime: mmghm's hooks, MMPretrain scope.
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(
        imports=['mmghm'], allow_failed_imports=False)
    hooks = {h['type'] for h in cfg.custom_hooks}
    assert {'mmghm.ClassCountsHook', 'mmghm.AURAHook',
            'mmghm.LossEpochHook'} <= hooks

    # Data: classes everywhere, imbalance factor, data set type.
    classes, dataset_type = DATA[parts.dataset]
    if parts.imbalance_factor is not None:
        classes, dataset_type = DATA_LT.get(parts.dataset,
                                            (classes, dataset_type))
    assert cfg.data_preprocessor.num_classes == classes
    assert cfg.model.head.num_classes == classes
    train = cfg.train_dataloader.dataset
    if parts.imbalance_factor is not None:
        assert train.type == 'mmghm.LongTailedDataset'
        assert train.imbalance_factor == parts.imbalance_factor
        assert train.imbalance_type == 'exp'
        train = train.dataset
    elif parts.dataset == 'digits-lt':
        assert train.imbalance_factor == 10
        train = train.dataset
    assert train.type == dataset_type
    assert cfg.val_dataloader.dataset.type == dataset_type
    assert cfg.train_cfg.max_epochs == EPOCHS[parts.schedule]
    evaluators = {m['type'] for m in cfg.val_evaluator}
    assert 'mmghm.GroupAccuracy' in evaluators

    # Model: backbone of the name, loss of the method with its settings.
    model = build_model(cfg)
    backbone_type, depth = BACKBONES[parts.backbone]
    assert type(model.backbone).__name__ == backbone_type
    assert model.backbone.depth == depth
    loss = loss_module(model)
    assert type(loss).__name__ == loss_type
    for key, value in attrs.items():
        assert getattr(loss, key) == value, (key, getattr(loss, key))
    if hasattr(loss, 'num_classes') and loss.num_classes is not None:
        assert loss.num_classes == classes
    if parts.method == 'ldam-drw':
        # DRW at 80% of training (epoch 160 of 200), cosine classifier.
        assert loss.drw_start_epoch == int(0.8 * EPOCHS[parts.schedule])
        assert type(model.head).__name__ == 'NormedLinearClsHead'
    if parts.method == 'softmax-la':
        assert type(model.head).__name__ == 'LogitAdjustedLinearClsHead'
        assert model.head.tau == 1.0


#: {data} -> (mode, thresholds, num_groups, group names) of the built
#: GroupAccuracy: ten classes leave fixed thresholds' groups empty, so three
#: equal groups by count; the paper's four groups on the large data sets.
GROUPING = {
    'cifar10-lt': ('quantile', None, 3, ('many', 'medium', 'few')),
    'cifar10jpeg-lt': ('quantile', None, 3, ('many', 'medium', 'few')),
    'digits-lt': ('quantile', None, 3, ('many', 'medium', 'few')),
    'cifar100-lt': ('threshold', (100, 20), 3, ('many', 'medium', 'few')),
    'tinyimagenet-lt': ('threshold', (100, 20), 3,
                        ('many', 'medium', 'few')),
    'imagenet-lt': ('four', (100, 20, 10), 4,
                    ('many', 'medium', 'few', 'rare')),
    'inat2017': ('four', (100, 20, 10), 4,
                 ('many', 'medium', 'few', 'rare')),
}


@pytest.mark.parametrize('name', sorted(NAMES))
def test_evaluators_build_with_the_data_sets_grouping(name):
    from mmpretrain.registry import METRICS
    cfg = load(name)
    mode, thresholds, num_groups, group_names = GROUPING[
        collect.parse_config_name(name).dataset]
    for field in ('val_evaluator', 'test_evaluator'):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            metrics = [METRICS.build(copy.deepcopy(m)) for m in cfg[field]]
        assert [type(m).__name__ for m in metrics] == [
            'Accuracy', 'GroupAccuracy'], field
        group = metrics[1]
        assert group.mode == mode, field
        if thresholds is not None:
            assert tuple(group.thresholds) == thresholds, field
        assert group.num_groups == num_groups, field
        assert tuple(group.group_names) == group_names, field


def test_paper_grid_is_complete():
    for method in collect.PAPER_TABLE1:
        for dataset in collect.TABLE1_DATASETS:
            for imb in collect.TABLE1_IFS:
                assert f'{method}_resnet32_200e_{dataset}-if{imb}' in NAMES
    for dataset, rows in collect.PAPER_TABLE2.items():
        for method in rows:
            assert f'{method}_resnet50_90e_{dataset}' in NAMES
    for method in collect.PAPER_TABLE3:
        assert f'{method}_resnet50_90e_imagenet-lt' in NAMES
    # Tables 2-3 also on the paper's own ImageNet-LT construction.
    for method in list(collect.PAPER_TABLE2['imagenet-lt']) + list(
            collect.PAPER_TABLE3):
        assert f'{method}_resnet50_90e_imagenet-lt-if100' in NAMES
    # The CIFAR-10 block of Table 1 (+ LDAM-DRW, Balanced Softmax) on the
    # JPEG copy, 200 epochs, for the GPU harness.
    for method in list(collect.PAPER_TABLE1) + ['ldam-drw',
                                                'balanced-softmax']:
        for imb in collect.TABLE1_IFS:
            assert f'{method}_resnet32_200e_cifar10jpeg-lt-if{imb}' in NAMES
    for method in ('ldam-drw', 'balanced-softmax'):
        for imb in collect.TABLE1_IFS:
            assert f'{method}_resnet32_200e_cifar10-lt-if{imb}' in NAMES
    for method in ('softmax', 'seesaw', 'seesaw-mmpretrain', 'ghm-cwap',
                   'ghm-cwap-a-aura'):
        assert f'{method}_resnet32_30e_cifar10jpeg-lt-if100' in NAMES


def test_generated_files_are_current():
    stale = []
    for rel, text in generate.outputs().items():
        path = ROOT / rel
        if not path.is_file() or path.read_text(encoding='utf-8') != text:
            stale.append(rel)
    assert not stale, ('regenerate with python tools/misc/generate_configs.py'
                       f': {stale[:5]}')
    index = (ROOT / 'model-index.yml').read_text(encoding='utf-8')
    for folder in {p.parent.name for p in CONFIGS}:
        assert f'configs/{folder}/metafile.yml' in index
        assert (CONFIG_DIR / folder / 'README.md').is_file()


def _lr_curve(name: str, epoch_length: int) -> list:
    """lr at the first and last iteration of every epoch, as the Runner's
    ParamSchedulerHook steps the schedulers."""
    from mmengine.registry import PARAM_SCHEDULERS
    cfg = load(name)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], **{
        k: v for k, v in cfg.optim_wrapper.optimizer.items() if k != 'type'})
    schedulers = []
    scheds = cfg.param_scheduler
    for sched in scheds if isinstance(scheds, list) else [scheds]:
        with DefaultScope.overwrite_default_scope('mmengine'):
            schedulers.append(PARAM_SCHEDULERS.build(
                copy.deepcopy(sched),
                default_args=dict(optimizer=opt, epoch_length=epoch_length)))
    curve = []
    for _ in range(cfg.train_cfg.max_epochs):
        first = opt.param_groups[0]['lr']
        for _ in range(epoch_length):
            last = opt.param_groups[0]['lr']
            for s in schedulers:
                if not s.by_epoch:
                    s.step()
        curve.append((first, last))
        for s in schedulers:
            if s.by_epoch:
                s.step()
    return curve


def test_schedule_200e_is_ldam_drw():
    curve = _lr_curve('softmax_resnet32_200e_cifar10-lt-if100', 97)
    starts = [first for first, _ in curve]
    expected = [0.1 * (e + 1) / 5 for e in range(5)] + [0.1] * 155 + \
        [1e-3] * 20 + [1e-5] * 20
    assert starts == pytest.approx(expected, rel=1e-9)
    assert load('softmax_resnet32_200e_cifar10-lt-if100') \
        .optim_wrapper.optimizer == dict(
            type='SGD', lr=0.1, momentum=0.9, weight_decay=2e-4)


def test_schedule_30e_is_the_compressed_200e():
    curve = _lr_curve('softmax_resnet32_30e_cifar10jpeg-lt-if100', 97)
    # Warm-up over the iterations of epoch 0, from 0.02 to 0.1.
    assert curve[0][0] == pytest.approx(0.02)
    assert 0.09 < curve[0][1] < 0.1
    starts = [first for first, _ in curve]
    expected = [0.1] * 24 + [1e-3] * 3 + [1e-5] * 3
    assert starts[1:] == pytest.approx(expected[1:], rel=1e-9)


def test_schedule_large_scale_is_decoupling():
    cfg = load('softmax_resnet50_90e_imagenet-lt')
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.2, momentum=0.9, weight_decay=5e-4)
    assert cfg.train_dataloader.batch_size * 8 == \
        cfg.auto_scale_lr.base_batch_size == 512
    curve = _lr_curve('softmax_resnet50_90e_imagenet-lt', 1)
    starts = [first for first, _ in curve]
    assert starts == pytest.approx(
        [0.1 * (1 + math.cos(math.pi * e / 90)) for e in range(90)],
        rel=1e-6)
    inat = load('softmax_resnet50_90e_inat2017')
    assert inat.optim_wrapper.optimizer.weight_decay == 1e-4


def test_digits_demo_data_and_one_training_step():
    """The README demo's data are real and long-tailed with >= 1 image a
    class, and one training step of its model (the config's preprocessor,
    loss and optimizer; forward, backward, SGD step) counts the batch into
    GHM-CWAP's histograms and moves every parameter as SGD says."""
    from mmengine.dataset import default_collate
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import DATASETS, MODELS
    cfg = load('ghm-cwap_resnet20_demo_digits-lt')
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        train = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
        test = DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))
    counts = list(train.metainfo['class_counts'])
    # int(140 * 0.1 ** (i / 9)): the head keeps 140, the tail 14.
    assert counts == [int(140 * 0.1**(i / 9)) for i in range(10)]
    assert counts == [140, 108, 83, 64, 50, 38, 30, 23, 18, 14]
    assert len(train) == 568 and len(test) == 355
    batch = default_collate([train[i] for i in range(8)])
    assert batch['inputs'][0].shape == (3, 32, 32)
    labels = torch.cat([s.gt_label for s in batch['data_samples']])

    # As the Runner builds it: the config's data preprocessor in the model.
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.data_preprocessor = dict(type='ClsDataPreprocessor',
                                       **cfg.data_preprocessor)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    with DefaultScope.overwrite_default_scope('mmengine'):
        optim_wrapper = build_optim_wrapper(model,
                                            copy.deepcopy(cfg.optim_wrapper))
    model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    # BaseModel.train_step, with the gradients kept to check the step
    data = model.data_preprocessor(batch, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    optim_wrapper.backward(loss)
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    optim_wrapper.step()

    # the loss counted the batch (uniform bins: the density is a count, up
    # to the float32 bin widths' 1 / (N d) = 1 +- 1e-6)
    ghm = loss_module(model)
    torch.testing.assert_close(ghm.density.sum(1),
                               torch.bincount(labels, minlength=10).to(
                                   ghm.density.dtype), rtol=1e-5, atol=0)
    # SGD's first step (momentum buffer = gradient): p -= lr (g + wd p)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('SGD', 0.1, 2e-4)
    for name, param in model.named_parameters():
        assert grads[name].abs().sum() > 0, name
        torch.testing.assert_close(
            param.detach(),
            before[name] - opt.lr * (grads[name] +
                                     opt.weight_decay * before[name]),
            msg=name)


def test_env_variable_default_data_root(monkeypatch):
    monkeypatch.delenv('CIFAR10_JPEG_ROOT', raising=False)
    cfg = Config.fromfile(
        str(NAMES['softmax_resnet32_30e_cifar10jpeg-lt-if100']))
    assert cfg.train_dataloader.dataset.dataset.data_root == \
        'data/cifar10-jpeg'
    assert cfg.val_dataloader.dataset.data_root == 'data/cifar10-jpeg'
    assert cfg.test_dataloader.dataset.data_root == 'data/cifar10-jpeg'
    assert cfg.train_dataloader.dataset.dataset.data_prefix == 'train'
    assert cfg.val_dataloader.dataset.data_prefix == 'test'


def test_readme_tables_list_every_config():
    for folder in {p.parent for p in CONFIGS}:
        readme = (folder / 'README.md').read_text(encoding='utf-8')
        listed = set(re.findall(r'\[([a-z0-9_.-]+)\]\(\./\1\.py\)', readme))
        assert listed == {p.stem for p in folder.glob('*.py')}, folder.name


def test_every_pipeline_builds():
    """Transform names and arguments of every data base are valid."""
    from mmpretrain.registry import TRANSFORMS
    seen = set()
    for name in sorted(NAMES):
        cfg = load(name)
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            dataset = cfg[loader].dataset
            dataset = dataset.get('dataset', dataset)
            key = repr(dataset.pipeline)
            if key in seen:
                continue
            seen.add(key)
            with DefaultScope.overwrite_default_scope('mmpretrain'):
                transforms = [TRANSFORMS.build(copy.deepcopy(t))
                              for t in dataset.pipeline]
            assert type(transforms[-1]).__name__ == 'PackInputs'
    # Train: CIFAR, JPEG CIFAR-10, TinyImageNet, ImageNet-LT, iNaturalist,
    # digits; test: CIFAR, load-and-pack (JPEG CIFAR-10, TinyImageNet),
    # resize-and-crop (ImageNet-LT, iNaturalist), digits.
    assert len(seen) == 10


def test_paper_imagenet_lt_construction_and_its_groups():
    """The paper's ImageNet-LT: ImageNet-2012 train made long-tailed (IF
    100, like CIFAR); the four groups documented in imagenet_lt_if100.py
    are what the config's evaluator makes of it, none empty."""
    from mmghm.datasets.long_tailed import long_tailed_counts
    from mmghm.evaluation.metrics.group_accuracy import GroupAccuracy
    cfg = load('ghm-cwap_resnet50_90e_imagenet-lt-if100')
    train = cfg.train_dataloader.dataset
    assert (train.type, train.imbalance_factor, train.imbalance_type) == (
        'mmghm.LongTailedDataset', 100, 'exp')
    assert (train.dataset.type, train.dataset.split) == ('ImageNet', 'train')
    assert (cfg.val_dataloader.dataset.type,
            cfg.val_dataloader.dataset.split) == ('ImageNet', 'val')
    assert cfg.test_dataloader.dataset.split == 'val'
    # n_max: LongTailedDataset's default, ImageNet-2012's smallest class.
    counts = long_tailed_counts(1000, 732, 100)
    assert (counts[0], counts[-1], sum(counts)) == (732, 7, 157069)
    metric = [m for m in cfg.val_evaluator
              if m['type'] == 'mmghm.GroupAccuracy'][0]
    groups = GroupAccuracy.assign_groups(counts, metric['mode'],
                                         metric['thresholds'])
    assert np.bincount(groups).tolist() == [430, 351, 151, 68]
    # Liu et al.'s lists stay as the alternative.
    assert load('ghm-cwap_resnet50_90e_imagenet-lt') \
        .train_dataloader.dataset.type == 'mmghm.ImageNetLT'


def test_no_config_says_the_schedule_is_the_papers():
    """The paper states no schedule: no config or base may say it used
    LDAM-DRW's 200 epochs (or any schedule)."""
    claims = re.compile(r'(GHM-CWAP paper|the paper)\W{0,3}(uses|used)?\W*'
                        r'(200 epochs|200-epoch)|used by .{0,60}the '
                        r'GHM-CWAP paper: 200', re.S)
    offenders = [str(p.relative_to(ROOT)) for p in CONFIG_DIR.rglob('*.py')
                 if claims.search(p.read_text(encoding='utf-8'))]
    assert offenders == []
    base = (CONFIG_DIR / '_base_/schedules/cifar_lt_200e.py').read_text()
    assert 'Chosen by us' in base and 'states no epochs' in base


@pytest.mark.parametrize('name', sorted(NAMES))
def test_every_config_keeps_the_runtime_hooks(name):
    """A config that replaces custom_hooks (e.g. to add GradHistVisHook)
    must keep the runtime's hooks: ExactResumeHook makes --resume exact,
    the others do the method's work."""
    types = [h['type'] for h in load(name).get('custom_hooks', [])]
    for hook in ('mmghm.ClassCountsHook', 'mmghm.AURAHook',
                 'mmghm.LossEpochHook', 'mmghm.ExactResumeHook'):
        assert hook in types, f'{name} lacks {hook}'
