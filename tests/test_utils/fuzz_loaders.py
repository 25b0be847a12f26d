"""Fuzz mmghm's loaders of untrusted files (run by test_fuzz_loaders.py in a
subprocess, or by hand for longer):

    python tests/test_utils/fuzz_loaders.py --seconds 3600 --seed 1

Starts from a realistic MMEngine checkpoint and a ``tools/test.py --out``
predictions file, and applies random pickle-level mutations drawn by
Hypothesis: every allow-listed global spliced in at random places, BUILD,
SETITEMS, APPENDS, REDUCE and NEWOBJ opcodes on memoised objects, the
attack payloads of ``checkpoint_attacks.py``, random byte flips, and edits
of the zip records. Every load must return data (the loaders check it
before returning) or raise ``CheckpointRefusedError``; a marker file, a
change to any allow-listed object, any other exception, a crash or a hang
fails the run (a predictions file that unpickles to data of the wrong
shape gets ``load_predictions``' own ValueError). Before each load the
worker writes the case it is about to load to ``--progress`` (so a crash
names its input).
"""
import argparse
import os
import pickle
import struct
import sys
import tempfile
import time
import zipfile

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checkpoint_attacks import mmengine_checkpoint, payloads  # noqa: E402

import mmghm  # noqa: E402,F401
from mmghm.utils.checkpoint import (CheckpointRefusedError,  # noqa: E402
                                    checkpoint_safe_globals,
                                    load_checkpoint_file)
from mmghm.utils.predictions import (_PredictionsUnpickler,  # noqa: E402
                                     load_predictions)

OPCODES = [pickle.BUILD, pickle.SETITEMS, pickle.SETITEM, pickle.APPENDS,
           pickle.APPEND, pickle.REDUCE, pickle.NEWOBJ, pickle.TUPLE,
           pickle.MARK, pickle.POP, pickle.DUP, pickle.STOP,
           pickle.EMPTY_DICT, pickle.EMPTY_LIST, pickle.NONE]


def allowed_objects():
    from torch._weights_only_unpickler import _get_allowed_globals
    objs = [e[0] if isinstance(e, tuple) else e
            for e in checkpoint_safe_globals()]
    objs += list(_get_allowed_globals().values())
    objs += list(_PredictionsUnpickler._ALLOWED.values())
    from mmengine.logging.history_buffer import HistoryBuffer
    return objs + [HistoryBuffer]


def global_names():
    names = [e[1] for e in checkpoint_safe_globals() if isinstance(e, tuple)]
    from torch._weights_only_unpickler import _get_allowed_globals
    names += sorted(_get_allowed_globals())[:60]
    names += [f'{m}.{n}' for m, n in _PredictionsUnpickler._ALLOWED]
    return sorted(set(names))


def snapshot(objs):
    out = []
    for o in objs:
        d = getattr(o, '__dict__', None)
        out.append((getattr(o, '__defaults__', None),
                    getattr(o, '__kwdefaults__', None),
                    {k: id(v) for k, v in d.items()} if d is not None
                    else None))
    return out


def global_op(full: str) -> bytes:
    module, name = full.rsplit('.', 1)
    return b'c' + module.encode() + b'\n' + name.encode() + b'\n'


def memo_get(i: int) -> bytes:
    return b'h' + bytes([i % 256])


def zip_records(path):
    with zipfile.ZipFile(path) as zf:
        return [(i, zf.read(i.filename)) for i in zf.infolist()]


def write_zip(path, records, pkl):
    with zipfile.ZipFile(path, 'w') as dst:
        for info, data in records:
            dst.writestr(info, pkl if info.filename.endswith('/data.pkl')
                         else data)


def mutations(names, attacks):
    pos = st.floats(0, 1)
    return st.lists(st.one_of(
        st.tuples(st.just('global'), pos, st.sampled_from(names)),
        st.tuples(st.just('opcode'), pos, st.sampled_from(OPCODES),
                  st.integers(0, 255)),
        st.tuples(st.just('payload'), pos, st.sampled_from(attacks)),
        st.tuples(st.just('flip'), pos, st.integers(0, 255)),
        st.tuples(st.just('zip'), pos, st.integers(0, 2**32 - 1)),
    ), min_size=1, max_size=6)


def mutate(pkl: bytes, ops, marker):
    body = bytearray(pkl)
    zip_edits = []
    for op in ops:
        at = min(int(op[1] * len(body)), len(body) - 1)
        if op[0] == 'global':
            body[at:at] = global_op(op[2])
        elif op[0] == 'opcode':
            body[at:at] = memo_get(op[3]) + op[2]
        elif op[0] == 'payload':
            body[at:at] = payloads(marker)[op[2]]
        elif op[0] == 'flip':
            body[at] = op[2]
        else:
            zip_edits.append((op[1], op[2]))
    return bytes(body), zip_edits


def edit_zip(path, edits):
    raw = bytearray(open(path, 'rb').read())
    heads = [i for i in range(len(raw) - 4)
             if raw[i:i + 2] == b'PK' and raw[i + 2] in (1, 3, 5)]
    for frac, value in edits:
        if not heads:
            break
        at = heads[min(int(frac * len(heads)), len(heads) - 1)]
        field = at + 4 + 2 * (value % 12)  # a header field of 2 or 4 bytes
        raw[field:field + 4] = struct.pack('<I', value)[:len(raw[field:
                                                                 field + 4])]
    with open(path, 'wb') as f:
        f.write(bytes(raw))


def run(seconds: float, first_seed: int, progress: str) -> int:
    work = tempfile.mkdtemp(prefix='mmghm-fuzz-')
    marker = os.path.join(work, 'marker')
    ckpt_path = os.path.join(work, 'base.pth')
    torch.save(mmengine_checkpoint(), ckpt_path)
    records = zip_records(ckpt_path)
    ckpt_pkl = next(d for i, d in records if i.filename.endswith('data.pkl'))
    gen = torch.Generator().manual_seed(0)
    samples = [dict(sample_idx=i, gt_label=torch.tensor([i % 10]),
                    pred_score=torch.rand(10, generator=gen).softmax(0),
                    img_path=f'test/{i}.jpg', ori_shape=(32, 32))
               for i in range(8)]
    pred_pkl = pickle.dumps(samples, protocol=2)
    names, attacks = global_names(), sorted(payloads(marker))
    objs = allowed_objects()
    before = snapshot(objs)
    counts = dict(loaded=0, refused=0)
    stop_at = time.time() + seconds

    def one(kind, ops):
        path = os.path.join(work, 'case.pth' if kind == 'ckpt' else
                            'case.pkl')
        pkl, zip_edits = mutate(ckpt_pkl if kind == 'ckpt' else pred_pkl,
                                ops, marker)
        if kind == 'ckpt':
            write_zip(path, records, pkl)
            edit_zip(path, zip_edits)
        else:
            with open(path, 'wb') as f:
                f.write(pkl)
        with open(progress, 'w') as f:
            f.write(f'{kind} {ops!r}\n')
        try:
            if kind == 'ckpt':
                load_checkpoint_file(path)
            else:
                load_predictions(path)
            counts['loaded'] += 1
        except CheckpointRefusedError:
            counts['refused'] += 1
        except ValueError as e:  # the predictions' schema check
            if kind == 'ckpt' or 'tools/test.py --out' not in str(e):
                raise
            counts['refused'] += 1
        assert not os.path.exists(marker), f'marker written by {ops!r}'

    current = first_seed
    while time.time() < stop_at:
        @seed(current)
        @settings(max_examples=200, deadline=None, database=None,
                  phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(st.sampled_from(['ckpt', 'pred']), mutations(names, attacks))
        def case(kind, ops):
            if time.time() < stop_at:
                one(kind, ops)

        case()
        current += 1
    changed = [o for o, a, b in zip(objs, before, snapshot(objs)) if a != b]
    assert not changed, f'allow-listed objects changed: {changed}'
    print(f'fuzz: {counts["loaded"]} loaded, {counts["refused"]} refused, '
          f'seeds {first_seed}..{current - 1}, {seconds:.0f} s')
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds', type=float, default=60)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--progress', default=os.devnull)
    args = parser.parse_args()
    torch.set_num_threads(1)
    np.seterr(all='ignore')
    sys.exit(run(args.seconds, args.seed, args.progress))


if __name__ == '__main__':
    main()
