"""``--cfg-options`` values whose type does not fit the setting they replace
are refused, naming the option and the type expected (issue 20: ``train_cfg.
max_epochs=abc`` failed with "invalid literal for int()" deep in the loop)."""
import argparse

import pytest

from mmghm.utils.launch import add_common_args, load_config


@pytest.fixture(autouse=True)
def local_rank(monkeypatch):
    """load_config sets $LOCAL_RANK; monkeypatch restores it."""
    monkeypatch.setenv('LOCAL_RANK', '0')


@pytest.fixture
def config(tmp_path):
    path = tmp_path / 'c.py'
    path.write_text(
        'train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=10)\n'
        'optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.1))\n'
        'param_scheduler = [dict(type="MultiStepLR", milestones=[160, 180],'
        ' by_epoch=True)]\n'
        'data_root = "data"\nload_from = None\n')
    return str(path)


def load(config, *options):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_common_args(parser)
    return load_config(parser.parse_args([config, '--cfg-options',
                                          *options]))


@pytest.mark.parametrize('option, message', [
    ('train_cfg.max_epochs=abc',
     "--cfg-options train_cfg.max_epochs=abc: train_cfg.max_epochs must be "
     "an integer (the config has 200), got 'abc' (a str)."),
    ('train_cfg.max_epochs=1.5', 'must be an integer (the config has 200), '
     'got 1.5 (a number)'),
    ('train_cfg.max_epochs=true', 'must be an integer (the config has 200),'
     ' got True (a boolean)'),
    ('optim_wrapper.optimizer.lr=fast', 'optimizer.lr must be a number (the '
     "config has 0.1), got 'fast'"),
    ('train_cfg.by_epoch=1', 'train_cfg.by_epoch must be a boolean (true or '
     'false) (the config has True), got 1 (an integer)'),
    ('param_scheduler.0.by_epoch=yes', 'param_scheduler.0.by_epoch must be '
     'a boolean'),
    ('train_cfg.val_interval=5,10', 'train_cfg.val_interval=5,10: train_cfg.'
     'val_interval must be an integer (the config has 10), got [5, 10] (a '
     'list)'),
])
def test_wrong_type_names_the_option_and_the_expected_type(
        config, option, message):
    with pytest.raises(ValueError) as info:
        load(config, option)
    assert message in str(info.value)


def test_fitting_values_are_applied(config):
    cfg = load(config, 'train_cfg.max_epochs=3', 'optim_wrapper.optimizer.'
               'lr=1', 'train_cfg.by_epoch=false', 'train_cfg.val_interval='
               'None', 'data_root=/data/x', 'load_from=w/epoch_1.pth',
               'param_scheduler.0.milestones=[1,2]', 'new_key=abc')
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.optim_wrapper.optimizer.lr == 1
    assert cfg.train_cfg.by_epoch is False
    assert cfg.train_cfg.val_interval is None
    assert cfg.data_root == '/data/x'
    assert cfg.load_from == 'w/epoch_1.pth'
    assert cfg.param_scheduler[0].milestones == [1, 2]
