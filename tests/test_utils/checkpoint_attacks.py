"""Hand-assembled pickles that try to run code through mmghm's checkpoint
allow-list (see ``mmghm/utils/checkpoint.py``).

Every payload, if it succeeded, would create the file ``marker`` (its
``open(marker, 'w')`` runs through ``eval``); the tests assert that loading
is refused and the file never appears.
"""
import io
import pickle
import struct
import zipfile
from typing import Dict

import numpy as np
import torch
from mmengine.logging import MessageHub

PROTO2 = b'\x80\x02'
STOP = b'.'
MARK, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b'(', b't', b'\x85', b'\x86', b'\x87'
EMPTY_TUPLE, EMPTY_DICT, SETITEM = b')', b'}', b's'
REDUCE, BUILD, NEWOBJ = b'R', b'b', b'\x81'
HB = ('mmengine.logging.history_buffer', 'HistoryBuffer')


def glob(module: str, name: str) -> bytes:
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def text(s: str) -> bytes:
    raw = s.encode()
    return b'X' + struct.pack('<I', len(raw)) + raw


def integer(i: int) -> bytes:
    return b'J' + struct.pack('<i', i)


def call(func: bytes, *args: bytes) -> bytes:
    """``func(*args)`` through REDUCE."""
    return func + MARK + b''.join(args) + TUPLE + REDUCE


def getattr_(obj: bytes, name: str) -> bytes:
    return call(glob('builtins', 'getattr'), obj, text(name))


def embedded(obj) -> bytes:
    """A legitimately pickled object, to splice into a payload."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def eval_code(marker: str) -> str:
    return f'open({marker!r}, "w").write("pwned")'


def builtins_eval() -> bytes:
    """``getattr(getattr(getattr, '__self__'), 'eval')``: step 1 of the
    attack reported in issue 11."""
    module = getattr_(glob('builtins', 'getattr'), '__self__')
    return getattr_(module, 'eval')


def new_history_buffer() -> bytes:
    return glob(*HB) + EMPTY_TUPLE + NEWOBJ


def valid_state() -> Dict:
    return {
        'max_length': 10,
        '_log_history': np.array([1.0, 2.0]),
        '_count_history': np.array([1.0, 1.0]),
    }


def payloads(marker: str) -> Dict[str, bytes]:
    """name -> the pickle body of one attack (without PROTO/STOP)."""
    code = text(eval_code(marker))
    plant = EMPTY_DICT + text('__setstate__')
    return {
        # The full chain of issue 11: getattr -> builtins -> eval, planted
        # as the instance's __setstate__, then a second BUILD with code.
        'issue_chain': new_history_buffer() + plant + builtins_eval() +
        SETITEM + BUILD + code + BUILD,
        # The same chain without the getattr step: plant an allowed
        # callable as __setstate__ (the state check must refuse the key).
        'plant_setstate':
        new_history_buffer() + plant + glob('numpy', 'dtype') + SETITEM +
        BUILD + text('f8') + BUILD,
        # A valid state first, then a second BUILD on the same object.
        'second_build': new_history_buffer() + embedded(valid_state()) +
        BUILD + EMPTY_DICT + text('__setstate__') + glob('numpy', 'dtype') +
        SETITEM + BUILD,
        # An attribute beside the valid ones.
        'extra_state_key': new_history_buffer() +
        embedded(dict(valid_state(), __reduce_ex__=1)) + BUILD,
        # Statistics methods re-pointed: 'mean' -> HistoryBuffer.min
        # would change MMEngine's class-level table for every buffer.
        'swapped_statistics': new_history_buffer() +
        embedded(valid_state()) + text('statistics_methods') +
        EMPTY_DICT + text('mean') + getattr_(glob(*HB), 'min') + SETITEM +
        SETITEM + BUILD,
        # getattr on the allowed class with other names.
        'getattr_init': getattr_(glob(*HB), '__init__'),
        'getattr_setstate': getattr_(glob(*HB), '__setstate__'),
        'getattr_class_dict': getattr_(glob(*HB), '__dict__'),
        'getattr_register': getattr_(glob(*HB), 'register_statistics'),
        'getattr_statistics_table': getattr_(glob(*HB), '_statistics_methods'),
        'getattr_on_numpy': getattr_(glob('numpy', 'ndarray'), 'tofile'),
        'getattr_on_dtype': getattr_(glob('numpy', 'dtype'), '__call__'),
        # Calling the allowed class (REDUCE) or NEWOBJ with arguments.
        'call_history_buffer': call(glob(*HB)),
        'newobj_with_args': glob(*HB) + MARK + integer(5) + TUPLE + NEWOBJ,
        # Globals that are not allow-listed at all.
        'builtins_eval': call(glob('builtins', 'eval'), code),
        'os_system': call(glob('os', 'system'), text('true')),
        'posix_system': call(glob('posix', 'system'), text('true')),
        'numpy_load': call(glob('numpy', 'load'), text(marker)),
        'object_dtype_class': call(glob('numpy.dtypes', 'ObjectDType')),
        # numpy routes to object arrays / scalars or ndarray subclasses.
        'object_dtype': call(glob('numpy', 'dtype'), text('O8'),
                             b'\x89', b'\x88'),
        'void_dtype': call(glob('numpy', 'dtype'), text('V8'), b'\x89',
                           b'\x88'),
        'dtype_from_class': call(
            glob('numpy', 'dtype'), glob('numpy', 'ndarray')),
        'reconstruct_big': call(
            glob('numpy._core.multiarray', '_reconstruct'),
            glob('numpy', 'ndarray'), MARK + integer(5) + TUPLE,
            embedded(b'b')),
        'reconstruct_dtype_subtype': call(
            glob('numpy.core.multiarray', '_reconstruct'),
            glob('numpy.dtypes', 'Float64DType'), MARK + integer(0) + TUPLE,
            embedded(b'b')),
        'scalar_short_bytes': call(
            glob('numpy._core.multiarray', 'scalar'),
            embedded(np.dtype('f8')), embedded(b'\x00')),
        'scalar_of_object': call(
            glob('numpy._core.multiarray', 'scalar'),
            embedded(np.dtype('f8')), code),
    }


def write_torch_file(path, body: bytes) -> None:
    """A ``torch.save`` zip whose ``data.pkl`` is ``PROTO 2 + body + STOP``.

    The payload object is the whole checkpoint; torch.load reads it like any
    other file (the other records are those of an empty ``torch.save``).
    """
    buf = io.BytesIO()
    torch.save({}, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, 'w') as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith('/data.pkl'):
                data = PROTO2 + body + STOP
            dst.writestr(info, data)


class _SplicingPickler(pickle._Pickler):
    """Pickles like torch.save, but writes ``raw`` bytes for one object."""

    target = None
    raw = b''

    def save(self, obj, save_persistent_id=True):
        if obj is type(self).target:
            self.write(self.raw)
            return
        super().save(obj, save_persistent_id)


def append_to_checkpoint(src, dst, body: bytes) -> None:
    """``src`` (a real checkpoint) with ``meta['note']`` replaced by the
    attack ``body``: it still evaluates normally if the attack runs."""
    ckpt = torch.load(src, map_location='cpu')
    sentinel = object()
    ckpt.setdefault('meta', {})['note'] = sentinel
    pickler = type('Pickler', (_SplicingPickler, ), dict(
        target=sentinel, raw=body))
    module = type('pickle_module', (), dict(Pickler=pickler))
    torch.save(ckpt, dst, pickle_module=module)


def mmengine_checkpoint(**meta_extra):
    """What MMEngine 0.10's Runner.save_checkpoint writes, in small."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3),
                                torch.nn.BatchNorm2d(8))
    model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    hub = MessageHub(f'ckpt-test-{id(model)}')
    for v in (1.0, 2.5, 4.0):
        hub.update_scalar('train/loss', v)
    hub.update_info('keep_ckpt_ids', [1, 2])
    hub.update_info('np_scalar', np.float64(0.5))
    hub.update_info('np_array',
                    np.asfortranarray(np.arange(6.).reshape(2, 3)))
    meta = dict(epoch=2, iter=20, seed=0, cfg='model = dict()',
                experiment_name='x', time='20261201_000000',
                mmengine_version='0.10.7',
                dataset_meta=dict(classes=('a', 'b')),
                mmghm_class_counts=[5000, 50])
    meta.update(meta_extra)
    from mmengine.optim import LinearLR, MultiStepLR
    schedulers = [LinearLR(opt, start_factor=0.2, by_epoch=True, end=5),
                  MultiStepLR(opt, milestones=[160, 180], by_epoch=True)]
    return dict(meta=meta, state_dict=model.state_dict(),
                message_hub=hub.state_dict(), optimizer=opt.state_dict(),
                param_schedulers=[s.state_dict() for s in schedulers])
