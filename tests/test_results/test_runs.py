"""Reading Runner work dirs: validations, tests, one run per checkpoint."""
from pathlib import Path

import pytest
from fake_runs import make_run

from mmghm.results.runs import (load_runs, merge_by_checkpoint,
                                same_checkpoint, select_metrics)

C10 = 'cifar10-lt-if100'


@pytest.fixture
def work_dirs(tmp_path):
    root = tmp_path / 'work_dirs'
    # GHM-CWAP: trained in two sessions (resumed), best epoch is not last.
    make_run(root, f'ghm-cwap_resnet32_200e_{C10}',
             f'ghm-cwap_resnet32_200e_{C10}',
             [('20240101_000000', [1, 2], [50.0, 77.5], None),
              ('20240102_000000', [3], [76.0], None)])
    # Seesaw: validated during training, then tools/test.py in the same dir.
    wd = root / f'seesaw_resnet32_200e_{C10}'
    make_run(root, wd.name, wd.name,
             [('20240101_000000', [1], [60.0], None)],
             tests=[('20240103_000000', {'accuracy/top1': 74.25,
                                         'group_accuracy/many': 90.0},
                     wd / 'epoch_1.pth')])
    return root


def _by_name(runs):
    return {Path(r.work_dir).name: r for r in runs}


def test_reads_sessions_in_time_order(work_dirs):
    runs = _by_name(load_runs([str(work_dirs)]))
    assert len(runs) == 2
    ghm = runs[f'ghm-cwap_resnet32_200e_{C10}']
    # Both sessions, in time order; train lines are not validations.
    assert [m['accuracy/top1'] for m in ghm.val] == [50.0, 77.5, 76.0]
    assert [m['step'] for m in ghm.val] == [1.0, 2.0, 3.0]
    assert ghm.test is None
    assert ghm.checkpoint == str(Path(ghm.work_dir) / 'epoch_3.pth')
    assert [Path(p).parent.name for p in ghm.logs] == [
        '20240101_000000', '20240102_000000']
    seesaw = runs[f'seesaw_resnet32_200e_{C10}']
    assert seesaw.test == {'accuracy/top1': 74.25,
                           'group_accuracy/many': 90.0}
    assert same_checkpoint(seesaw.test_checkpoint, seesaw.checkpoint)


def test_select_last_best_test(work_dirs):
    runs = _by_name(load_runs([str(work_dirs)]))
    ghm = runs[f'ghm-cwap_resnet32_200e_{C10}']
    assert select_metrics(ghm, 'auto', 'last')['accuracy/top1'] == 76.0
    assert select_metrics(ghm, 'auto', 'best')['accuracy/top1'] == 77.5
    assert select_metrics(ghm, 'test') is None
    seesaw = runs[f'seesaw_resnet32_200e_{C10}']
    assert select_metrics(seesaw, 'auto')['accuracy/top1'] == 74.25
    assert select_metrics(seesaw, 'val')['accuracy/top1'] == 60.0
    with pytest.raises(ValueError, match="select must be 'last' or 'best'"):
        select_metrics(seesaw, 'val', 'first')
    with pytest.raises(ValueError, match="source must be"):
        select_metrics(seesaw, 'train')


def test_test_of_the_last_checkpoint_in_another_dir_is_the_same_run(
        tmp_path):
    """tools/test.py --work-dir OTHER on a training's last checkpoint: one
    run (the bug counted it twice: "96.90 ± 0.00 (n=2)")."""
    name = 'ghm-cwap_resnet20_demo_digits-lt'
    train = make_run(tmp_path, 'train', name,
                     [('20240101_000000', [1, 2], [90.0, 96.9], None)])
    make_run(tmp_path, 'test', name,
             tests=[('20240101_010000', {'accuracy/top1': 96.9},
                     train / 'epoch_2.pth')])
    runs = load_runs([str(tmp_path)])
    assert len(runs) == 1
    (run, ) = runs
    assert run.work_dir == str(train)
    assert run.test == {'accuracy/top1': 96.9}
    assert [m['accuracy/top1'] for m in run.val] == [90.0, 96.9]


def test_relative_checkpoint_path_in_the_test_log_matches(tmp_path):
    name = 'softmax_resnet20_demo_digits-lt'
    make_run(tmp_path, 'work_dirs/ce', name,
             [('20240101_000000', [1], [80.0], None)])
    make_run(tmp_path, 'work_dirs/ce_test', name,
             tests=[('20240101_010000', {'accuracy/top1': 81.0},
                     'work_dirs/ce/epoch_1.pth')])
    (run, ) = load_runs([str(tmp_path / 'work_dirs')])
    assert run.test == {'accuracy/top1': 81.0}


def test_other_checkpoints_stay_separate_and_twin_tests_count_once(
        tmp_path):
    name = 'softmax_resnet20_demo_digits-lt'
    train = make_run(tmp_path, 'train', name,
                     [('20240101_000000', [1, 2], [80.0, 85.0], None)])
    # A test of epoch 1 (not the training's last checkpoint), twice.
    for i, top1 in enumerate((70.0, 71.0)):
        make_run(tmp_path, f'test{i}', name,
                 tests=[(f'2024010{i + 2}_000000', {'accuracy/top1': top1},
                         train / 'epoch_1.pth')])
    runs = load_runs([str(tmp_path)])
    assert len(runs) == 2
    tests_only = [r for r in runs if not r.val]
    assert [r.test['accuracy/top1'] for r in tests_only] == [71.0]
    assert next(r for r in runs if r.val).test is None


def test_a_test_with_another_config_stays_that_configs_run(tmp_path):
    """tau-norm (another config) tested a cross-entropy checkpoint; both
    folders given to one export: the training keeps its own validations
    and no test (the bug merged tau-norm's 63.00 into cross-entropy's row),
    and each config's tests of that checkpoint count once in its own row."""
    ce = 'softmax_resnet32_30e_cifar10jpeg-lt-if100'
    tau = 'softmax-taunorm_resnet32_30e_cifar10jpeg-lt-if100'
    la = 'softmax-la_resnet32_30e_cifar10jpeg-lt-if100'
    train = make_run(tmp_path, 'ce/seed2', ce,
                     [('20240101_000000', [1, 2], [50.0, 58.42], None)])
    ckpt = train / 'epoch_2.pth'
    make_run(tmp_path, 'tau/seed2', tau,
             tests=[('20240102_000000', {'accuracy/top1': 63.0}, ckpt)])
    for i, top1 in enumerate((69.0, 69.5)):
        make_run(tmp_path, f'la{i}/seed2', la,
                 tests=[(f'2024010{i + 3}_000000', {'accuracy/top1': top1},
                         ckpt)])
    runs = load_runs([str(tmp_path / d) for d in ('ce', 'tau', 'la0', 'la1')])
    by_config = {r.config: r for r in runs}
    assert len(runs) == 3 and set(by_config) == {ce, tau, la}
    assert by_config[ce].test is None
    assert select_metrics(by_config[ce], 'auto')['accuracy/top1'] == 58.42
    assert by_config[tau].test == {'accuracy/top1': 63.0}
    assert by_config[la].test == {'accuracy/top1': 69.5}  # the later one
    for config in (tau, la):
        assert same_checkpoint(by_config[config].test_checkpoint, str(ckpt))


def test_merge_prefers_the_newer_test(tmp_path):
    name = 'softmax_resnet20_demo_digits-lt'
    train = make_run(tmp_path, 'train', name,
                     [('20240101_000000', [1], [80.0], None)],
                     tests=[('20240101_010000', {'accuracy/top1': 1.0},
                             tmp_path / 'train' / 'epoch_1.pth')])
    make_run(tmp_path, 'test', name,
             tests=[('20240102_000000', {'accuracy/top1': 2.0},
                     train / 'epoch_1.pth')])
    runs = load_runs([str(tmp_path)])
    assert len(runs) == 1
    # The other dir's test was written after the training's own test.
    assert runs[0].test == {'accuracy/top1': 2.0}
    assert merge_by_checkpoint(runs) == runs


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match='no such file'):
        load_runs([str(tmp_path / 'missing')])
    bad = tmp_path / 'wd' / '20240101_000000' / 'vis_data'
    bad.mkdir(parents=True)
    (bad / 'scalars.json').write_text('{"accuracy/top1": 1}\nnot json\n')
    with pytest.raises(ValueError, match='line 2 is not JSON'):
        load_runs([str(tmp_path / 'wd')])


def test_metrics_file_of_the_test_tool(tmp_path):
    wd = tmp_path / 'focal_resnet32_200e_cifar100-lt-if10'
    wd.mkdir()
    (wd / 'focal_resnet32_200e_cifar100-lt-if10.py').write_text('')
    out = wd / 'metrics.json'
    out.write_text('{"accuracy/top1": 55.5, "accuracy/top5": 80.0}')
    (run, ) = load_runs([str(out)])
    assert run.config == 'focal_resnet32_200e_cifar100-lt-if10'
    assert run.test == {'accuracy/top1': 55.5, 'accuracy/top5': 80.0}
    out.write_text('[1, 2]')
    with pytest.raises(ValueError, match='holds a list'):
        load_runs([str(out)])


def test_metrics_file_beside_a_test_log_joins_its_training(tmp_path):
    """tools/test.py --out m.json --out-item metrics --work-dir T: the
    metrics file and the training it scored are one run."""
    name = 'ghm-cwap_resnet20_demo_digits-lt'
    train = make_run(tmp_path, 'train', name,
                     [('20240101_000000', [1], [90.0], None)])
    test = make_run(tmp_path, 'test', name,
                    tests=[('20240101_010000', {'accuracy/top1': 91.0},
                            train / 'epoch_1.pth')])
    out = test / 'm.json'
    out.write_text('{"accuracy/top1": 91.5}')
    (run, ) = load_runs([str(train), str(out)])
    assert run.work_dir == str(train)
    assert run.test == {'accuracy/top1': 91.5}


def test_last_checkpoint_never_names_a_file_outside_the_work_dir(tmp_path):
    """``last_checkpoint`` is text an attacker can set: an outside path
    stands for the file of the same name inside the work dir (a moved work
    dir), and a FIFO or a URL is refused rather than read or hashed."""
    import os

    from mmghm.results.runs import last_checkpoint
    from mmghm.utils.checkpoint_files import CheckpointPathError
    work = tmp_path / 'work'
    work.mkdir()
    outside = tmp_path / 'secret.pth'
    outside.write_bytes(b'x')
    (work / 'last_checkpoint').write_text(str(outside))
    assert last_checkpoint(str(work)) == str((work / 'secret.pth'))
    (work / 'epoch_3.pth').write_bytes(b'x')
    (work / 'last_checkpoint').write_text('/elsewhere/epoch_3.pth')
    assert last_checkpoint(str(work)) == str(work / 'epoch_3.pth')
    (work / 'last_checkpoint').write_text('http://host/epoch_3.pth')
    with pytest.raises(CheckpointPathError):
        last_checkpoint(str(work))
    (work / 'last_checkpoint').unlink()
    os.mkfifo(work / 'last_checkpoint')
    with pytest.raises(CheckpointPathError):
        last_checkpoint(str(work))
