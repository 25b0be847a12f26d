"""configs/decoupling: every config builds, inherits the stage-1 config its
name names, keeps the runtime hooks, and stage 2 is what README.md says;
metafile, model-index and README list every config."""
import copy
import re
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmghm  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / 'configs/decoupling'
CONFIGS = sorted(FOLDER.glob('*.py'))
STAGE2 = {'crt': True, 'lws': False}  # method suffix -> reinit_head
STAGE1_FOLDER = {'softmax': 'softmax', 'ghm-cwap': 'ghm_cwap',
                 'balanced-softmax': 'balanced_softmax'}
SAMPLERS = {'cb-sampler': 'mmghm.ClassBalancedSampler',
            'sqrt-sampler': 'mmghm.SquareRootSampler',
            'pb-sampler': 'mmghm.ProgressivelyBalancedSampler'}


def split_name(path):
    method, rest = path.stem.split('_', 1)
    for suffix in list(STAGE2) + ['taunorm'] + list(SAMPLERS):
        if method.endswith('-' + suffix):
            return method[:-len(suffix) - 1], suffix, rest
    raise AssertionError(f'{path.name}: unknown decoupling method')


def test_the_folder_has_the_required_configs():
    names = {p.stem for p in CONFIGS}
    for method in ('softmax-crt', 'softmax-lws', 'softmax-taunorm',
                   'ghm-cwap-crt', 'balanced-softmax-crt',
                   'softmax-cb-sampler', 'softmax-sqrt-sampler',
                   'softmax-pb-sampler'):
        assert f'{method}_resnet32_30e_cifar10jpeg-lt-if100' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_inherits_its_stage1_and_builds(path):
    stage1_method, kind, rest = split_name(path)
    stage1 = ROOT / 'configs' / STAGE1_FOLDER[stage1_method] / \
        f'{stage1_method}_{rest}.py'
    assert stage1.is_file()
    text = path.read_text()
    assert text.startswith('_base_ = [')
    assert f"'../{stage1.parent.name}/{stage1.name}'" in text.split(']')[0]
    cfg, base = Config.fromfile(str(path)), Config.fromfile(str(stage1))
    for key in ('data_preprocessor', 'val_dataloader', 'test_evaluator',
                'optim_wrapper', 'randomness'):
        assert cfg[key] == base[key], key
    assert cfg.train_dataloader.dataset == base.train_dataloader.dataset
    assert cfg.model.backbone == base.model.backbone
    hooks = [h['type'] for h in cfg.custom_hooks]
    for hook in ('mmghm.ClassCountsHook', 'mmghm.AURAHook',
                 'mmghm.LossEpochHook', 'mmghm.ExactResumeHook'):
        assert hook in hooks
    freeze = [h for h in cfg.custom_hooks
              if h['type'] == 'mmghm.FreezeRepresentationHook']
    if kind in STAGE2:
        assert len(freeze) == 1 and freeze[0].reinit_head == STAGE2[kind]
        assert tuple(freeze[0].modules) == ('backbone', 'neck')
        assert cfg.train_dataloader.sampler == dict(
            type='mmghm.ClassBalancedSampler')
        assert cfg.model.head.loss == dict(type='CrossEntropyLoss',
                                           loss_weight=1.0)
        assert cfg.train_cfg.max_epochs == 3 and cfg.load_from is None
        assert cfg.find_unused_parameters is True
    else:
        assert freeze == []
        assert cfg.train_cfg == base.train_cfg
    if kind in SAMPLERS:
        assert cfg.train_dataloader.sampler.type == SAMPLERS[kind]
        if kind == 'pb-sampler':
            assert cfg.train_dataloader.sampler.total_epochs == \
                cfg.train_cfg.max_epochs
        assert cfg.model == base.model
    if kind == 'taunorm':
        assert cfg.model.head.type == 'mmghm.TauNormLinearClsHead'
        assert cfg.train_dataloader == base.train_dataloader
    expected_head = {'lws': 'LWSLinearClsHead',
                     'taunorm': 'TauNormLinearClsHead'}.get(kind,
                                                            'LinearClsHead')
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    assert type(model.head).__name__ == expected_head
    assert type(model.head.loss_module).__name__ == 'CrossEntropyLoss'


def test_metafile_index_and_readme_list_every_config():
    meta = yaml.safe_load((FOLDER / 'metafile.yml').read_text())
    names = {p.stem for p in CONFIGS}
    assert {m['Name'] for m in meta['Models']} == names
    for m in meta['Models']:
        assert (ROOT / m['Config']).is_file()
    assert 'configs/decoupling/metafile.yml' in \
        (ROOT / 'model-index.yml').read_text()
    readme = (FOLDER / 'README.md').read_text()
    listed = set(re.findall(r'\[([a-z0-9_.-]+)\]\(\./\1\.py\)', readme))
    assert listed == names
