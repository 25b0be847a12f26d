"""mmghm's one checkpoint loader: what a checkpoint may hold, and what of
it reaches MMEngine (``mmghm/utils/checkpoint.py``).

Each attack is built inside its test from a realistic MMEngine checkpoint
(model weights, optimizer, a message hub with HistoryBuffers, numpy
scalars and arrays, MMEngine's own meta keys).
"""
import os
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch
from checkpoint_attacks import (BUILD, MARK, TUPLE, call, embedded, glob,
                                mmengine_checkpoint, text, write_torch_file)
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint
from mmengine.utils import digit_version

import mmghm  # noqa: F401  (installs the loader)
from mmghm.utils.checkpoint import (META_KEYS, CheckpointRefusedError,
                                    load_checkpoint_file)

pytestmark = pytest.mark.skipif(
    digit_version(torch.__version__) < digit_version('2.6.0'),
    reason='the checked allow-list needs torch >= 2.6')


def save(obj, path):
    torch.save(obj, path)
    return str(path)


def test_a_clean_mmengine_checkpoint_loads_unchanged(tmp_path):
    ckpt = mmengine_checkpoint()
    loaded = load_checkpoint_file(save(ckpt, tmp_path / 'c.pth'))
    for k, v in ckpt['state_dict'].items():
        assert torch.equal(loaded['state_dict'][k], v)
        assert loaded['state_dict'][k].stride() == v.stride()
    assert loaded['meta'] == ckpt['meta']
    # MultiStepLR keeps its milestones in a collections.Counter.
    assert loaded['param_schedulers'] == ckpt['param_schedulers']
    info = loaded['message_hub']['runtime_info']
    assert type(info['np_array']) is np.ndarray  # not mmghm's stand-in
    np.testing.assert_array_equal(info['np_array'], np.arange(6.).reshape(
        2, 3))
    assert info['np_array'].flags.f_contiguous
    assert info['np_scalar'] == np.float64(0.5)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert type(buffer._log_history) is np.ndarray
    assert buffer.mean() == pytest.approx(2.5)
    # What was loaded saves and loads again (no stand-in is pickled).
    again = load_checkpoint_file(save(loaded, tmp_path / 'again.pth'))
    np.testing.assert_array_equal(
        again['message_hub']['runtime_info']['np_array'],
        info['np_array'])


def test_every_mmengine_scheme_loads_through_mmghm():
    schemes = CheckpointLoader._schemes
    assert '' in schemes and 'http://' in schemes
    unchecked = [p for p, f in schemes.items()
                 if not getattr(f, '_mmghm_sanitizing', False)]
    assert unchecked == []


def test_meta_config_is_dropped_with_a_warning_and_never_executed(tmp_path):
    marker = tmp_path / 'marker'
    code = f'open({str(marker)!r}, "w").write("pwned")'
    path = save(mmengine_checkpoint(config=code), tmp_path / 'evil.pth')
    with pytest.warns(UserWarning, match=r"\['config'\].*would execute"):
        loaded = _load_checkpoint(path, map_location='cpu')  # MMEngine's
    assert 'config' not in loaded['meta']
    assert loaded['meta']['epoch'] == 2
    assert not marker.exists()


def test_unknown_meta_keys_are_dropped_and_known_ones_kept(tmp_path):
    path = save(mmengine_checkpoint(hook_msgs={'last_ckpt': '/etc/passwd'}),
                tmp_path / 'c.pth')
    with pytest.warns(UserWarning, match=r"\['hook_msgs'\]"):
        meta = load_checkpoint_file(path)['meta']
    assert set(meta) == set(mmengine_checkpoint()['meta'])
    assert set(meta) <= set(META_KEYS)


@pytest.mark.parametrize('key, value, match', [
    ('epoch', '2', r"\['epoch'\] is str"),
    ('epoch', -1, r"\['epoch'\] is int -1.*>= 0"),
    ('seed', 1.5, r"\['seed'\] is float"),
    ('cfg', ['x'], r"\['cfg'\] is list"),
])
def test_a_known_meta_key_of_the_wrong_type_is_refused(tmp_path, key, value,
                                                       match):
    path = save(mmengine_checkpoint(**{key: value}), tmp_path / 'c.pth')
    with pytest.raises(CheckpointRefusedError, match=match):
        load_checkpoint_file(path)


def test_keep_ckpt_ids_that_are_paths_are_refused(tmp_path):
    """CheckpointHook deletes out_dir/epoch_{id}.pth for the ids it finds
    on resume: an id '/../../victim' names a file outside the work dir."""
    ckpt = mmengine_checkpoint()
    ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] = [
        '/../../../victim', 1, 2]
    with pytest.raises(CheckpointRefusedError, match='keep_ckpt_ids'):
        load_checkpoint_file(save(ckpt, tmp_path / 'c.pth'))


def test_best_checkpoint_paths_are_dropped(tmp_path):
    ckpt = mmengine_checkpoint()
    ckpt['message_hub']['runtime_info']['best_ckpt'] = '/home/someone/data'
    with pytest.warns(UserWarning, match=r"\['best_ckpt'\]"):
        hub = load_checkpoint_file(save(ckpt, tmp_path / 'c.pth'))[
            'message_hub']
    assert 'best_ckpt' not in hub['runtime_info']


def test_a_function_as_a_value_is_refused(tmp_path):
    path = tmp_path / 'f.pth'
    write_torch_file(path, glob('torch._utils', '_rebuild_tensor_v2'))
    with pytest.raises(CheckpointRefusedError, match='data only'):
        load_checkpoint_file(str(path))


def test_an_expanded_tensor_is_refused(tmp_path):
    big = torch.zeros(1).expand(10**7)  # 4 bytes of storage, 10^7 elements
    with pytest.raises(CheckpointRefusedError, match='expanded'):
        load_checkpoint_file(save({'state_dict': {'w': big}},
                                  tmp_path / 'c.pth'))


def test_a_list_that_contains_itself_is_refused(tmp_path):
    loop = []
    loop.append(loop)
    with pytest.raises(CheckpointRefusedError, match='contains itself'):
        load_checkpoint_file(save({'meta': {}, 'x': loop},
                                  tmp_path / 'c.pth'))


def test_compressed_zip_records_are_refused_before_loading(tmp_path):
    """A deflated record of zeros: 260 KB on disk, 256 MB when loaded."""
    src = save({'w': torch.zeros(1 << 20)}, tmp_path / 'plain.pth')
    evil = tmp_path / 'deflated.pth'
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(
            evil, 'w', zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    assert os.path.getsize(evil) < os.path.getsize(src) / 100
    with pytest.raises(CheckpointRefusedError, match='compressed'):
        load_checkpoint_file(str(evil))
    with pytest.raises(CheckpointRefusedError, match='compressed'):
        _load_checkpoint(str(evil), map_location='cpu')


def test_a_file_in_torchs_old_format_is_refused(tmp_path):
    path = tmp_path / 'old.pth'
    torch.save({'w': torch.zeros(2)}, path,
               _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointRefusedError, match='zip format'):
        load_checkpoint_file(str(path))


F8 = embedded(np.dtype('f8'))


def crafted_dtype(state: bytes) -> bytes:
    """``numpy.dtype('f8', False, True)`` BUILT with another state."""
    return call(glob('numpy', 'dtype'), text('f8'), b'\x89',
                b'\x88') + state + BUILD


def tuple_of(*items: bytes) -> bytes:
    return MARK + b''.join(items) + TUPLE


def integer(i: int) -> bytes:
    return b'J' + struct.pack('<i', i)


def array(dtype: bytes, shape=(2, ), nbytes=16) -> bytes:
    """An ndarray pickle (numpy's own opcodes) over ``nbytes`` bytes."""
    start = call(glob('numpy._core.multiarray', '_reconstruct'),
                 glob('numpy', 'ndarray'), tuple_of(integer(0)),
                 embedded(b'b'))
    state = tuple_of(integer(1), tuple_of(*map(integer, shape)), dtype,
                     b'\x89', embedded(b'\x01' * nbytes))
    return start + state + BUILD


NONE = b'N'
DTYPE_ATTACKS = {
    # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
    'field_inside_buffer': crafted_dtype(tuple_of(
        integer(3), text('|'), NONE, tuple_of(text('a')),
        b'}' + text('a') + tuple_of(F8, integer(4)) + b's',
        integer(8), integer(1), integer(16))),
    'field_past_buffer': crafted_dtype(tuple_of(
        integer(3), text('|'), NONE, tuple_of(text('a')),
        b'}' + text('a') + tuple_of(F8, integer(10**9)) + b's',
        integer(8), integer(1), integer(16))),
    'object_flag': crafted_dtype(tuple_of(
        integer(3), text('<'), NONE, NONE, NONE, integer(-1), integer(-1),
        integer(63))),
    'sub_array': crafted_dtype(tuple_of(
        integer(3), text('|'), tuple_of(F8, tuple_of(integer(4))), NONE,
        NONE, integer(32), integer(8), integer(16))),
    'wrong_itemsize': crafted_dtype(tuple_of(
        integer(3), text('<'), NONE, NONE, NONE, integer(64), integer(-1),
        integer(0))),
    'big_endian': crafted_dtype(tuple_of(
        integer(3), text('>'), NONE, NONE, NONE, integer(-1), integer(-1),
        integer(0))),
}

LOAD = textwrap.dedent('''
    import sys, torch, mmghm
    from mmghm.utils.checkpoint import CheckpointRefusedError
    for path in sys.argv[1:]:
        try:
            out = torch.load(path, weights_only=True)
            print(path, 'LOADED', repr(out)[:100].replace(chr(10), ' '))
        except CheckpointRefusedError as e:
            print(path, 'REFUSED', e)
''')


def test_every_rewritten_dtype_is_refused_never_a_crash(tmp_path):
    """One subprocess loads them all: a crash (exit 139, SystemError)
    would end it early."""
    paths = []
    for name in sorted(DTYPE_ATTACKS):
        paths.append(tmp_path / f'{name}.pth')
        write_torch_file(paths[-1], array(DTYPE_ATTACKS[name]))
    proc = subprocess.run([sys.executable, '-c', LOAD, *map(str, paths)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stdout.splitlines()
    assert len(lines) == len(paths), proc.stdout
    for path, line in zip(paths, lines):
        assert line.startswith(f'{path} REFUSED'), line
        assert 'numpy dtype float64 with the state' in line, line


@pytest.mark.parametrize('nbytes', [8, 24])
def test_an_array_with_other_than_its_own_bytes_is_refused(tmp_path,
                                                           nbytes):
    path = tmp_path / 'a.pth'
    write_torch_file(path, array(F8, shape=(2, ), nbytes=nbytes))
    with pytest.raises(CheckpointRefusedError,
                       match=f'needs 16 bytes, the file gives {nbytes}'):
        torch.load(path, weights_only=True)


def test_numpys_own_array_pickle_loads_exactly(tmp_path):
    path = tmp_path / 'a.pth'
    write_torch_file(path, array(F8, shape=(2, ), nbytes=16))
    out = torch.load(path, weights_only=True)
    np.testing.assert_array_equal(out, np.frombuffer(b'\x01' * 16, '<f8'))


def test_a_second_build_on_an_array_is_refused(tmp_path):
    path = tmp_path / 'a.pth'
    again = tuple_of(integer(1), tuple_of(integer(2)), F8, b'\x89',
                     embedded(b'\x00' * 16)) + BUILD
    write_torch_file(path, array(F8) + again)
    with pytest.raises(CheckpointRefusedError, match='second BUILD'):
        torch.load(path, weights_only=True)


def test_calling_ndarray_from_a_checkpoint_is_refused(tmp_path):
    """numpy.ndarray((10**12,)) would reserve terabytes."""
    path = tmp_path / 'a.pth'
    write_torch_file(path, call(glob('numpy', 'ndarray'),
                                tuple_of(integer(10**9))))
    with pytest.raises(CheckpointRefusedError, match=r'numpy\.ndarray\(\.'):
        torch.load(path, weights_only=True)


# -- .npz files: gradient-histogram dumps and image packs ---------------------
def test_npz_zip_bomb_is_refused_before_unpacking(tmp_path):
    from mmghm.utils.npz import load_npz
    path = tmp_path / 'bomb.npz'
    np.savez_compressed(path, a=np.zeros(1 << 24, np.uint8))  # 16 MB of 0
    assert os.path.getsize(path) < (1 << 24) / 500
    with pytest.raises(ValueError, match='more than 64 times'):
        load_npz(str(path))


def test_npz_header_larger_than_its_data_is_refused(tmp_path):
    """An .npy header may declare any shape; numpy allocates it before
    reading the data."""
    from mmghm.utils.npz import load_npz
    path = tmp_path / 'lying.npz'
    np.savez(path, a=np.zeros(4))
    with zipfile.ZipFile(path) as zf:
        data = zf.read('a.npy')
    header = data.replace(b"'shape': (4,)", b"'shape': (99999999,)")
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('a.npy', header)
    with pytest.raises(ValueError, match=r'declares shape \(99999999,\)'):
        load_npz(str(path))


def test_npz_written_by_numpy_loads_exactly(tmp_path):
    from mmghm.utils.npz import load_npz
    path = tmp_path / 'ok.npz'
    arrays = dict(a=np.arange(10.), b=np.array(['x', 'yz']),
                  c=np.eye(3, dtype=np.int64)[::-1])
    np.savez(path, **arrays)
    out = load_npz(str(path))
    assert set(out) == set(arrays)
    for k in arrays:
        np.testing.assert_array_equal(out[k], arrays[k])
