"""What tools/train.py and tools/test.py do with a config before the Runner:
syntax errors name the file and line, misspelt top-level --cfg-options keys
are reported with the closest existing key."""
import argparse
import warnings

import pytest

from mmghm.utils.launch import (add_common_args, apply_cfg_options,
                                load_config, parse_cfg_options, read_config,
                                unknown_top_level_keys)


@pytest.fixture(autouse=True)
def local_rank(monkeypatch):
    """load_config sets $LOCAL_RANK; monkeypatch restores it."""
    monkeypatch.setenv('LOCAL_RANK', '0')


def parse(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_common_args(parser)
    return parser.parse_args(argv)


def write(path, text):
    path.write_text(text)
    return str(path)


def test_syntax_error_names_the_config_file_and_line(tmp_path):
    bad = write(tmp_path / 'bad.py', 'a = 1\nmodel = dict(\n    x=1\n')
    with pytest.raises(SyntaxError, match=r"bad\.py, line 2: '\(' was "
                       'never closed'):
        read_config(bad)


def test_syntax_error_in_a_base_names_the_base(tmp_path):
    write(tmp_path / 'base.py', 'x = 1\ny = [1, 2\nz = 3\n')
    child = write(tmp_path / 'child.py', "_base_ = ['./base.py']\nw = 2\n")
    with pytest.raises(SyntaxError, match=r'base\.py, line 2'):
        read_config(child)


def test_misspelt_top_level_option_is_reported_with_closest_key(tmp_path):
    cfg = read_config(
        write(tmp_path / 'c.py', 'train_cfg = dict(max_epochs=3)\n'))
    options = {'trian_cfg.max_epochs': 1, 'train_cfg.max_epochs': 2,
               'load_from': 'x.pth', 'zzz': 1}
    assert unknown_top_level_keys(cfg, options) == [
        ('trian_cfg.max_epochs', 'train_cfg'), ('zzz', None)]


def test_load_config_warns_and_still_applies_the_valid_options(tmp_path):
    config = write(tmp_path / 'c.py', 'train_cfg = dict(max_epochs=3)\n')
    args = parse([
        config, '--cfg-options', 'trian_cfg.max_epochs=1',
        'train_cfg.max_epochs=2', 'randomness.seed=3'
    ])
    with pytest.warns(UserWarning, match="did you mean 'train_cfg'"):
        cfg = load_config(args)
    assert cfg.train_cfg.max_epochs == 2 and cfg.randomness.seed == 3


def test_known_options_give_no_warning(tmp_path):
    config = write(tmp_path / 'c.py', 'train_cfg = dict(max_epochs=3)\n')
    args = parse([config, '--cfg-options', 'train_cfg.max_epochs=2',
                  'env_cfg.dist_cfg.timeout=60', 'resume=True'])
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        load_config(args)


def test_parse_cfg_options_parses_as_the_flag_does():
    assert parse_cfg_options(['a.b=1', 'c=x,y', 'd=[1,2]', 'e=0.5']) == {
        'a.b': 1, 'c': ['x', 'y'], 'd': [1, 2], 'e': 0.5}
    flag = parse(['c.py', '--cfg-options', 'a.b=1', 'c=x,y']).cfg_options
    assert parse_cfg_options(['a.b=1', 'c=x,y']) == flag


def test_apply_cfg_options_checks_warns_and_merges(tmp_path):
    cfg = read_config(
        write(tmp_path / 'c.py', 'train_cfg = dict(max_epochs=3)\n'))
    with pytest.raises(ValueError, match='must be an integer'):
        apply_cfg_options(cfg, parse_cfg_options(['train_cfg.max_epochs=x']))
    assert cfg.train_cfg.max_epochs == 3  # nothing merged
    with pytest.warns(UserWarning, match="did you mean 'train_cfg'"):
        apply_cfg_options(cfg, parse_cfg_options(
            ['trian_cfg.max_epochs=1', 'train_cfg.max_epochs=2']))
    assert cfg.train_cfg.max_epochs == 2
