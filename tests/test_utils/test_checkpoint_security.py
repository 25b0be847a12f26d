"""Loading a checkpoint never runs code, and MMEngine's checkpoints load.

Each attack of ``checkpoint_attacks.py`` is loaded with ``torch.load``
(weights_only, torch's default) after ``import mmghm``; every one must be
refused with an ``UnpicklingError`` and leave no marker file. The issue-11
chain is also tried through ``tools/test.py`` and ``tools/train.py
--resume`` inside a real checkpoint.
"""
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoint_attacks import (append_to_checkpoint, payloads,
                                write_torch_file)
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.utils import digit_version

import mmghm  # noqa: F401  (registers the checked allow-list)
from mmghm.utils.checkpoint import (CheckpointRefusedError,
                                    checkpoint_safe_globals)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py'

pytestmark = pytest.mark.skipif(
    digit_version(torch.__version__) < digit_version('2.6.0'),
    reason='the checked allow-list needs torch >= 2.6 (add_safe_globals '
    'with (object, name) entries)')


def globals_in(path) -> set:
    """Every global a torch.save file's pickle names."""
    with zipfile.ZipFile(path) as zf:
        pkl = next(n for n in zf.namelist() if n.endswith('/data.pkl'))
        data = zf.read(pkl)
    names = set()
    for op, arg, _ in pickletools.genops(data):
        if op.name == 'GLOBAL':
            module, name = arg.split(' ')
            module = {'__builtin__': 'builtins'}.get(module, module)
            names.add(f'{module}.{name}')
    return names


# How each attack must be refused: by one of mmghm's checked stand-ins
# (CheckpointRefusedError, naming what was asked) or by torch's own
# weights-only unpickler (a global that was never allowed, or a BUILD on a
# type that is not allow-listed).
REFUSED_BY = {
    'issue_chain': (CheckpointRefusedError, r"getattr\(.*, '__self__'\)"),
    'plant_setstate': (CheckpointRefusedError,
                       r"state has keys \['__setstate__'\]"),
    'second_build': (pickle.UnpicklingError,
                     r'Can only build .*HistoryBuffer'),
    'extra_state_key': (CheckpointRefusedError,
                        r"state has keys \['__reduce_ex__'"),
    'swapped_statistics': (CheckpointRefusedError, 'statistics_methods'),
    'getattr_init': (CheckpointRefusedError, "'__init__'"),
    'getattr_setstate': (CheckpointRefusedError, "'__setstate__'"),
    'getattr_class_dict': (CheckpointRefusedError, "'__dict__'"),
    'getattr_register': (CheckpointRefusedError, "'register_statistics'"),
    'getattr_statistics_table': (CheckpointRefusedError,
                                 "'_statistics_methods'"),
    'getattr_on_numpy': (CheckpointRefusedError, "Array'>, 'tofile'"),
    'getattr_on_dtype': (CheckpointRefusedError, "'__call__'"),
    'call_history_buffer': (CheckpointRefusedError,
                            r'calling HistoryBuffer\(\.\.\.\)'),
    'newobj_with_args': (CheckpointRefusedError, 'without arguments'),
    'builtins_eval': (pickle.UnpicklingError, 'GLOBAL eval'),
    'os_system': (pickle.UnpicklingError, 'GLOBAL os.system'),
    'posix_system': (pickle.UnpicklingError, 'GLOBAL posix.system'),
    'numpy_load': (pickle.UnpicklingError, 'GLOBAL numpy.load'),
    'object_dtype_class': (pickle.UnpicklingError,
                           'GLOBAL numpy.dtypes.ObjectDType'),
    'object_dtype': (CheckpointRefusedError, r"dtype\('O8'"),
    'void_dtype': (CheckpointRefusedError, r"dtype\('V8'"),
    'dtype_from_class': (CheckpointRefusedError, r'numpy\.dtype\(<class'),
    'reconstruct_big': (CheckpointRefusedError, r'\(5,\)'),
    'reconstruct_dtype_subtype': (pickle.UnpicklingError,
                                  'GLOBAL numpy.dtypes.Float64DType'),
    'scalar_short_bytes': (CheckpointRefusedError, 'from bytes'),
    'scalar_of_object': (CheckpointRefusedError, 'from str'),
}


def test_every_attack_has_an_expected_refusal():
    assert set(REFUSED_BY) == set(payloads('unused'))


@pytest.mark.parametrize('name', sorted(REFUSED_BY))
def test_attack_is_refused_without_side_effect(name, tmp_path):
    marker = tmp_path / 'marker'
    path = tmp_path / f'{name}.pth'
    write_torch_file(path, payloads(str(marker))[name])
    error, pattern = REFUSED_BY[name]
    with pytest.raises(error, match=pattern):
        torch.load(path)
    assert not marker.exists()


def test_swapped_statistics_leave_mmengine_table_unchanged(tmp_path):
    before = dict(HistoryBuffer._statistics_methods)
    path = tmp_path / 'swap.pth'
    write_torch_file(path,
                     payloads(str(tmp_path / 'm'))['swapped_statistics'])
    with pytest.raises(CheckpointRefusedError, match='statistics_methods'):
        torch.load(path)
    assert HistoryBuffer._statistics_methods == before


def test_allow_list_holds_no_generic_callable():
    """Every allow-listed object is one of the checked stand-ins, numpy's
    ndarray or a numeric dtype class: not getattr, not the real
    HistoryBuffer, nothing from builtins."""
    import builtins
    for entry in checkpoint_safe_globals():
        obj = entry[0] if isinstance(entry, tuple) else entry
        assert obj is not HistoryBuffer
        assert obj not in vars(builtins).values()
        assert getattr(obj, '__module__', '') in (
            'mmghm.utils.checkpoint', 'numpy', 'numpy.dtypes'), obj
    names = {e[1] for e in checkpoint_safe_globals() if isinstance(e, tuple)}
    assert 'builtins.getattr' in names


def test_mmengine_objects_round_trip_with_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(2.0, count=3)
    data = {
        'hub': {
            'loss': buf
        },
        'f64': np.float64(3.25),
        'i64': np.int64(-4),
        'flag': np.bool_(True),
        'f32': np.arange(4, dtype=np.float32),
        'u8': np.arange(3, dtype=np.uint8),
    }
    torch.save(data, tmp_path / 'ok.pth')
    out = torch.load(tmp_path / 'ok.pth')
    loaded = out['hub']['loss']
    assert type(loaded) is HistoryBuffer
    np.testing.assert_array_equal(loaded.data[0], [1.5, 2.0])
    np.testing.assert_array_equal(loaded.data[1], [1.0, 3.0])
    assert loaded.mean() == pytest.approx((1.5 + 2.0) / 4)
    assert out['f64'] == 3.25 and out['f64'].dtype == np.float64
    assert out['i64'] == -4 and out['flag'] is np.True_
    np.testing.assert_array_equal(out['f32'], np.arange(4))
    assert out['u8'].dtype == np.uint8
    # a loaded buffer saves under MMEngine's own class name again
    torch.save(out, tmp_path / 'again.pth')
    names = globals_in(tmp_path / 'again.pth')
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    assert not any('mmghm' in n for n in names)


def test_stock_torch_refuses_an_mmengine_checkpoint(tmp_path):
    """Why the allow-list exists: without mmghm, torch refuses MMEngine's
    HistoryBuffer."""
    buf = HistoryBuffer()
    buf.update(1.0)
    torch.save({'hub': buf}, tmp_path / 'hub.pth')
    code = ('import torch, sys\n'
            'try:\n'
            f'    torch.load({str(tmp_path / "hub.pth")!r})\n'
            'except Exception as e:\n'
            '    print(type(e).__name__, e); sys.exit(3)\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert 'HistoryBuffer' in proc.stdout


# -- through the tools, inside a real checkpoint ------------------------------

def _tool(args, cwd=ROOT):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    args = [str(ROOT / args[0]), *args[1:]]
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope='module')
def demo_checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('demo')
    proc = _tool([
        'tools/train.py',
        str(DEMO), '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1'
    ])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work_dir / 'epoch_1.pth'


@pytest.mark.subprocess  # the demo trained by tools/train.py
def test_real_checkpoint_lists_only_allowed_globals(demo_checkpoint):
    names = globals_in(demo_checkpoint)
    allowed = {e[1] for e in checkpoint_safe_globals()
               if isinstance(e, tuple)}
    allowed |= {f'{e.__module__}.{e.__qualname__}'
                for e in checkpoint_safe_globals()
                if not isinstance(e, tuple)}
    # torch's own defaults (tensors, storages, OrderedDict, Counter, ...)
    from torch._weights_only_unpickler import _get_allowed_globals
    allowed |= set(_get_allowed_globals())
    assert names <= allowed, names - allowed
    assert 'builtins.getattr' in names  # HistoryBuffer's statistics


@pytest.mark.subprocess
@pytest.mark.parametrize('route', ['test', 'resume'])
def test_poisoned_real_checkpoint_is_refused_by_the_tools(
        route, demo_checkpoint, tmp_path):
    marker = tmp_path / 'marker'
    evil = tmp_path / 'epoch_1.pth'
    append_to_checkpoint(demo_checkpoint, evil,
                         payloads(str(marker))['issue_chain'])
    if route == 'test':
        args = ['tools/test.py', str(DEMO), str(evil)]
    else:
        args = ['tools/train.py', str(DEMO), '--resume', str(evil),
                '--cfg-options', 'train_cfg.max_epochs=2']
    proc = _tool(args + ['--work-dir', str(tmp_path / 'w')],
                 cwd=tmp_path)
    assert proc.returncode != 0
    assert 'mmghm refused to load this checkpoint' in proc.stderr
    assert not marker.exists()


@pytest.mark.subprocess
def test_resume_from_a_checkpoint_with_meta_config_never_runs_it(
        demo_checkpoint, tmp_path):
    """MMEngine's Runner.resume executes meta['config'] as a Python config;
    mmghm drops it (naming it) before MMEngine sees the checkpoint."""
    marker = tmp_path / 'marker'
    ckpt = torch.load(demo_checkpoint, weights_only=True)
    ckpt['meta']['config'] = f'open({str(marker)!r}, "w").write("pwned")'
    evil = tmp_path / 'evil.pth'
    torch.save(ckpt, evil)
    proc = _tool(['tools/train.py', str(DEMO), '--resume', str(evil),
                  '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                  'train_cfg.max_epochs=2'], cwd=tmp_path)
    assert not marker.exists()
    assert "dropped checkpoint['meta']['config']" in proc.stderr + \
        proc.stdout
    assert proc.returncode == 0, proc.stderr[-3000:]
