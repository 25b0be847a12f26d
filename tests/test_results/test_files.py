"""Run result files: export from work dirs, the schema, one checkpoint
counted once."""
import hashlib
import json
import os

import pytest
import torch
from fake_runs import make_run, write_result

from mmghm.results.export import config_overrides, export_run
from mmghm.results.files import (dedupe_by_checkpoint, load_run_results,
                                 result_path, validate_run_result)
from mmghm.results.files import write_result as write_result_file
from mmghm.results.runs import Run, load_runs

DEMO = 'ghm-cwap_resnet20_demo_digits-lt'
CONFIG_TEXT = ("randomness = dict(seed=3)\n"
               "train_cfg = dict(by_epoch=True, max_epochs=2)\n"
               "optim_wrapper = dict(type='OptimWrapper')\n")


@pytest.fixture
def trained_and_tested(tmp_path):
    train = make_run(tmp_path, 'train', DEMO,
                     [('20240101_000000', [1, 2], [90.0, 96.9],
                       {'many': 100.0, 'medium': 96.3, 'few': 93.3})],
                     config_text=CONFIG_TEXT, seed=3)
    # GroupAccuracy(out_file=...) of the last evaluation.
    (train / 'per_class.json').write_text(json.dumps(dict(
        top1=96.9, per_class_accuracy=[100.0, 90.0],
        class_counts=[140, 14], num_test_samples=[36, 35],
        classes=['0', '1'])))
    make_run(tmp_path, 'test', DEMO,
             tests=[('20240101_010000', {'accuracy/top1': 97.0,
                                         'group_accuracy/top1': 97.0},
                     train / 'epoch_2.pth')],
             config_text=CONFIG_TEXT, seed=3)
    return tmp_path


def test_export_one_run_from_training_and_test(trained_and_tested):
    (run, ) = load_runs([str(trained_and_tested)])
    result = export_run(run, suite='digits-lt_demo_cpu',
                        config=f'configs/ghm_cwap/{DEMO}.py')
    assert result['seed'] == 3
    assert result['metrics'] == {'accuracy/top1': 97.0,
                                 'group_accuracy/top1': 97.0}
    m = result['measured']
    assert m['tool'] == 'tools/train.py + tools/test.py'
    assert m['evaluated'] == 'tools/test.py on epoch_2.pth'
    assert (m['epochs'], m['torch'], m['precision'], m['device'],
            m['date']) == (2, '2.14.1', 'fp32', 'cpu', '2024-01-01')
    assert m['wall_s'] == 120.0  # the training log spans two minutes
    assert m['checkpoint'] == 'epoch_2.pth'
    assert len(m['checkpoint_sha256']) == 64
    # The per-class file is of another evaluation (top-1 96.9 != 97.0).
    assert 'per_class' not in result


def test_a_test_run_alone_takes_the_seed_of_its_checkpoint(tmp_path):
    # softmax-la_*: a cross-entropy checkpoint of seed 2 tested with
    # another config whose own seed is the runtime's default 0.
    ckpt = tmp_path / 'epoch_2.pth'
    torch.save(dict(meta=dict(seed=2, epoch=2), state_dict={}), ckpt)
    make_run(tmp_path, 'test', DEMO,
             tests=[('20240101_010000', {'accuracy/top1': 97.0}, ckpt)],
             config_text=CONFIG_TEXT.replace('seed=3', 'seed=0'), seed=0)
    (run, ) = load_runs([str(tmp_path / 'test')])
    assert export_run(run, suite='s')['seed'] == 2
    # Not a loadable checkpoint: the test's own seed, as before.
    ckpt.write_bytes(b'not a checkpoint')
    (run, ) = load_runs([str(tmp_path / 'test')])
    assert export_run(run, suite='s')['seed'] == 0


def _trained_from(tmp_path, name, load_from):
    text = CONFIG_TEXT + f'load_from = {str(load_from)!r}\n'
    make_run(tmp_path, name, DEMO,
             [('20240101_000000', [1, 2], [90.0, 96.9], None)],
             config_text=text, seed=3)
    (run, ) = load_runs([str(tmp_path / name)])
    return export_run(run, suite='s')['measured']


def test_a_training_from_a_checkpoint_records_that_checkpoints_digest(
        tmp_path):
    """A stage 2 names its stage-1 checkpoint (``load_from``), so that a
    result says which run it continued."""
    start = tmp_path / 'stage1' / 'epoch_30.pth'
    start.parent.mkdir()
    start.write_bytes(b'stage-1 weights' * 1000)
    m = _trained_from(tmp_path, 'stage2', start)
    assert m['load_from_sha256'] == hashlib.sha256(
        start.read_bytes()).hexdigest()
    assert m['checkpoint_sha256'] != m['load_from_sha256']


def test_a_start_checkpoint_that_is_not_a_regular_pth_file_is_not_read(
        tmp_path):
    fifo = tmp_path / 'pipe.pth'
    os.mkfifo(fifo)  # opening it to read would block forever
    other = tmp_path / 'notes.txt'
    other.write_text('x')
    for i, path in enumerate([fifo, other, tmp_path / 'gone.pth',
                              '/dev/zero', 'a\0b.pth']):
        assert 'load_from_sha256' not in _trained_from(
            tmp_path, f'wd{i}', path)


def test_export_last_validation_with_per_class(trained_and_tested):
    (run, ) = load_runs([str(trained_and_tested)])
    result = export_run(run, suite='s', source='val')
    assert result['config'] == f'{DEMO}.py'
    assert result['metrics']['group_accuracy/few'] == 93.3
    assert result['measured']['tool'] == 'tools/train.py'
    assert result['measured']['evaluated'] == 'last epoch'
    assert result['per_class'] == dict(accuracy=[100.0, 90.0],
                                       train_counts=[140, 14],
                                       test_counts=[36, 35],
                                       classes=['0', '1'])
    # The data description uses the counts the run logged.
    assert result['measured']['data'] == (
        'digits-LT (scikit-learn), 154 train / 71 test images')
    with pytest.raises(ValueError, match='no top-1 accuracy to export'):
        export_run(Run(run.work_dir, run.config), suite='s')


def test_cfg_options_are_the_differences_that_matter():
    original = dict(train_cfg=dict(max_epochs=30), work_dir='a',
                    model=dict(head=dict(loss=dict(gamma=0.8))),
                    randomness=dict(seed=0),
                    train_dataloader=dict(dataset=dict(data_root='x')))
    dumped = dict(train_cfg=dict(max_epochs=30), work_dir='b',
                  model=dict(head=dict(loss=dict(gamma=0.4))),
                  randomness=dict(seed=2),
                  train_dataloader=dict(dataset=dict(data_root='y'),
                                        collate_fn=dict(type='c')),
                  custom_hooks=[dict(type='A')])
    assert config_overrides(original, dumped) == [
        'custom_hooks.0.type="A"', 'model.head.loss.gamma=0.4']


def test_a_setting_the_dump_lacks_is_a_change_only_of_a_complete_dump():
    """A list made shorter leaves its last entries out of the dump: a
    change of a complete (Runner's) dump, recorded as null; a partial dump
    says nothing of the keys it lacks."""
    original = dict(custom_hooks=[dict(type='A'), dict(type='B')],
                    train_cfg=dict(max_epochs=30))
    dumped = dict(custom_hooks=[dict(type='A')])
    assert config_overrides(original, dumped) == [
        'custom_hooks.1.type=null', 'train_cfg.max_epochs=null']
    assert config_overrides(original, dumped, dump_complete=False) == []
    dumped['train_cfg'] = dict(max_epochs=4)
    assert config_overrides(original, dumped, dump_complete=False) == [
        'train_cfg.max_epochs=4']


def _valid():
    return dict(schema='mmghm.run_result/1', config='configs/x/y.py',
                cfg_options=[], variant=None, seed=0,
                metrics={'accuracy/top1': 50.0},
                measured=dict(tool='t', evaluated='e', data='d', device='c',
                              torch='2', precision='fp32', date='2026'))


@pytest.mark.parametrize('change, message', [
    (dict(schema='other'), "schema must be 'mmghm.run_result/1'"),
    (dict(seed='0'), 'seed must be an int'),
    (dict(metrics={'top1': 5.0}), r"metrics\['top1'\]"),
    (dict(metrics={'accuracy/top1': float('nan')}), 'finite numbers'),
    (dict(metrics={'group_accuracy/many': 5.0}), 'no top-1 accuracy'),
    (dict(variant='Bad Name'), 'variant must match'),
    (dict(cfg_options='a=1'), 'cfg_options must be a list'),
    (dict(measured=dict(tool='t')), r"measured lacks \['evaluated'"),
    (dict(per_class=dict(accuracy=[1.0], train_counts=[])),
     'per_class needs'),
])
def test_schema_errors_name_the_field(change, message):
    data = dict(_valid(), **change)
    with pytest.raises(ValueError, match=message):
        validate_run_result(data, 'f.json')
    assert validate_run_result(_valid()) == _valid()


def test_files_live_where_they_belong_and_seeds_do_not_collide(tmp_path):
    path = result_path(str(tmp_path), 'suite', 'configs/x/a_b_c_d.py',
                       'var-1', 2)
    assert path == str(tmp_path / 'suite' / 'a_b_c_d@var-1' / 'seed2.json')
    with pytest.raises(ValueError, match='suite must match'):
        result_path(str(tmp_path), '../up', 'a.py', None, 0)
    good = write_result(tmp_path, 'suite', 'configs/x/a_b_c_d.py', 0,
                        {'accuracy/top1': 1.0})
    (res, ) = load_run_results(str(tmp_path), 'suite')
    assert res.key == ('a_b_c_d', None) and res.path == str(good)
    # Misplaced: a seed-1 result in the seed-0 file.
    data = json.loads(good.read_text())
    good.write_text(json.dumps(dict(data, seed=1)))
    with pytest.raises(ValueError, match='belongs at .*seed1.json'):
        load_run_results(str(tmp_path))
    assert load_run_results(str(tmp_path), 'not-run-yet') == []
    # Another checkpoint's result for one seed is refused.
    data['measured']['checkpoint_sha256'] = 'a' * 64
    write_result_file(data, str(tmp_path / 'r'), 'suite')
    data['measured']['checkpoint_sha256'] = 'b' * 64
    with pytest.raises(ValueError, match='another checkpoint'):
        write_result_file(data, str(tmp_path / 'r'), 'suite')


def test_a_checkpoint_scored_twice_counts_once(tmp_path):
    for seed in (0, 1):
        write_result(tmp_path, 's', 'configs/x/a_b_c_d.py', seed,
                     {'accuracy/top1': 1.0}, checkpoint_sha256='c' * 64)
    write_result(tmp_path, 's', 'configs/x/a_b_c_d.py', 2,
                 {'accuracy/top1': 1.0}, checkpoint_sha256='d' * 64)
    kept, warnings = dedupe_by_checkpoint(load_run_results(str(tmp_path)))
    assert [r.data['seed'] for r in kept] == [0, 2]
    assert len(warnings) == 1 and 'seed1.json' in warnings[0]


def test_another_config_testing_the_same_checkpoint_is_its_own_row(tmp_path):
    # softmax-la_* tests softmax_*'s checkpoint with another head.
    for config in ('configs/x/a_b_c_d.py', 'configs/y/a-la_b_c_d.py'):
        write_result(tmp_path, 's', config, 0, {'accuracy/top1': 1.0},
                     checkpoint_sha256='c' * 64)
    kept, warnings = dedupe_by_checkpoint(load_run_results(str(tmp_path)))
    assert sorted(r.config_stem for r in kept) == ['a-la_b_c_d', 'a_b_c_d']
    assert warnings == []


def test_a_resumed_run_sums_its_sessions(tmp_path):
    make_run(tmp_path, 'wd', DEMO,
             [('20240101_000000', [1], [50.0], None),
              ('20240102_000000', [2], [60.0], None)],
             config_text=CONFIG_TEXT, seed=3)
    (run, ) = load_runs([str(tmp_path)])
    m = export_run(run, suite='s')['measured']
    # Each fake session's log spans two minutes.
    assert (m['wall_s'], m['sessions'], m['date']) == (240.0, 2,
                                                       '2024-01-01')


def test_an_unfinished_training_is_not_exported_by_default(tmp_path):
    make_run(tmp_path, 'wd', DEMO, [('20240101_000000', [1], [50.0], None)],
             config_text=CONFIG_TEXT.replace('max_epochs=2', 'max_epochs=30'),
             seed=3)
    (run, ) = load_runs([str(tmp_path)])
    with pytest.raises(ValueError, match='unfinished, its last validation '
                       'is at epoch 1 of 30'):
        export_run(run, suite='s')
    assert export_run(run, suite='s',
                      allow_unfinished=True)['measured']['epochs'] == 1


def test_export_takes_the_per_class_file_of_a_test_in_its_own_folder(
        tmp_path):
    """tools/test.py without --work-dir tests in the training's work dir and
    writes its per_class.json into its timestamped folder: export of the
    test's metrics finds it there; the training's file stays the training's
    (its top-1 differs)."""
    train = make_run(tmp_path, 'train', DEMO,
                     [('20240101_000000', [1, 2], [90.0, 96.9], None)],
                     tests=[('20240101_010000', {'accuracy/top1': 97.0,
                                                 'group_accuracy/top1': 97.0},
                             'epoch_2.pth')],
                     config_text=CONFIG_TEXT, seed=3)
    (train / 'per_class.json').write_text(json.dumps(dict(
        top1=96.9, per_class_accuracy=[100.0, 90.0],
        class_counts=[140, 14], num_test_samples=[36, 35])))
    (train / '20240101_010000' / 'per_class.json').write_text(json.dumps(
        dict(top1=97.0, per_class_accuracy=[100.0, 92.0],
             class_counts=[140, 14], num_test_samples=[36, 35])))
    (run, ) = load_runs([str(tmp_path)])
    tested = export_run(run, suite='digits-lt_demo_cpu')
    assert tested['metrics']['group_accuracy/top1'] == 97.0
    assert tested['per_class']['accuracy'] == [100.0, 92.0]
    validated = export_run(run, suite='digits-lt_demo_cpu', source='val')
    assert validated['per_class']['accuracy'] == [100.0, 90.0]


def test_export_takes_the_per_class_file_of_a_test_in_its_own_work_dir(
        tmp_path):
    """tools/test.py --work-dir DIR writes per_class.json into DIR (the
    parent of its log's folder); a training exported with that test finds
    it there, not the training's own (other top-1)."""
    from mmghm.results.runs import merge_by_checkpoint
    train = make_run(tmp_path, 'train', DEMO,
                     [('20240101_000000', [1, 2], [90.0, 96.9], None)],
                     config_text=CONFIG_TEXT, seed=3)
    (train / 'per_class.json').write_text(json.dumps(dict(
        top1=96.9, per_class_accuracy=[100.0, 90.0], class_counts=[140, 14])))
    test = make_run(tmp_path, 'test', DEMO, tests=[(
        '20240101_010000', {'accuracy/top1': 97.0, 'group_accuracy/top1':
                            97.0}, str(train / 'epoch_2.pth'))],
                    config_text=CONFIG_TEXT, seed=3)
    (test / 'per_class.json').write_text(json.dumps(dict(
        top1=97.0, per_class_accuracy=[100.0, 94.0], class_counts=[140, 14])))
    (run, ) = merge_by_checkpoint(load_runs([str(train), str(test)]))
    tested = export_run(run, suite='digits-lt_demo_cpu')
    assert tested['metrics']['group_accuracy/top1'] == 97.0
    assert tested['per_class']['accuracy'] == [100.0, 94.0]


def test_benchmark_files_are_checked_before_they_are_written(tmp_path):
    """One writer for benchmark files (every benchmark script's): a result
    the schema refuses leaves the file that was there untouched."""
    from mmghm.results.files import load_benchmark, write_benchmark
    good = dict(schema='mmghm.benchmark/1', benchmark='demo',
                device='cpu: 2-core x86_64', torch='2.14.1',
                measured=dict(tool='tools/analysis/x.py'),
                columns=['loss', 'ms'],
                rows=[dict(loss='CE', ms=1.5), dict(loss='GHM', ms=2.0)])
    path = tmp_path / 'benchmarks' / 'demo_cpu.json'
    path.parent.mkdir()
    assert write_benchmark(good, str(path)) == str(path)
    assert load_benchmark(str(path)) == good
    before = path.read_bytes()
    bad = dict(good, rows=[['CE', 1.5]])  # rows must be objects
    with pytest.raises(ValueError, match='demo_cpu.json'):
        write_benchmark(bad, str(path))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ['demo_cpu.json']
