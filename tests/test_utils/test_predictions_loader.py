"""load_predictions reads what tools/test.py --out writes (MMEngine's
pickle of DumpResults) and refuses anything that would run code."""
import io
import pickle
import warnings

import mmengine
import numpy as np
import pytest
import torch

from mmghm.utils import CheckpointRefusedError
from mmghm.utils.predictions import load_predictions, prediction_arrays


def _samples(num=5, classes=4):
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(num, classes, generator=gen).softmax(1)
    return [dict(sample_idx=i, img_path=f'x/{i}.png', ori_shape=(32, 32),
                 gt_label=torch.tensor([i % classes]),
                 pred_label=scores[i].argmax(0, keepdim=True),
                 pred_score=scores[i].clone())
            for i in range(num)]


def test_reads_mmengine_dump_of_dumpresults_samples(tmp_path):
    samples = _samples()
    path = tmp_path / 'pred.pkl'
    mmengine.dump(samples, str(path))
    loaded = load_predictions(str(path))
    assert len(loaded) == len(samples)
    for got, want in zip(loaded, samples):
        assert got.keys() == want.keys()
        assert torch.equal(got['pred_score'], want['pred_score'])
        assert torch.equal(got['gt_label'], want['gt_label'])
    scores, target = prediction_arrays(loaded)
    np.testing.assert_allclose(
        scores, torch.stack([s['pred_score'] for s in samples]).numpy())
    np.testing.assert_array_equal(target, [0, 1, 2, 3, 0])


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}', )


class _Encode:
    def __reduce__(self):
        import _codecs
        return _codecs.encode, ('abc', 'rot13')


class _StorageBytes:
    """A 'storage' whose inner file (read by _load_from_bytes) pickles
    os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        buf = io.BytesIO()
        torch.save(_System(self.marker), buf)
        return torch.storage._load_from_bytes, (buf.getvalue(), )


@pytest.mark.parametrize('make, match', [
    (lambda m: [dict(pred_score=_System(m))], 'the global posix.system'),
    (lambda m: [dict(x=_Encode())], r"_codecs.encode\(str, 'rot13'\)"),
    (lambda m: [dict(x=_StorageBytes(m))], 'malformed tensor storage'),
])
def test_code_in_a_predictions_file_is_refused_unrun(tmp_path, make, match):
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pkl'
    with open(path, 'wb') as f:
        pickle.dump(make(marker), f, protocol=2)
    with pytest.raises((CheckpointRefusedError, pickle.UnpicklingError),
                       match=match):
        load_predictions(str(path))
    assert not marker.exists()


def test_not_a_list_of_dicts_or_missing_keys_is_named(tmp_path):
    path = tmp_path / 'pred.pkl'
    mmengine.dump({'a': 1}, str(path))
    with pytest.raises(ValueError, match='list of per-sample dicts'):
        load_predictions(str(path))
    with pytest.raises(ValueError, match="no 'pred_score'"):
        prediction_arrays([dict(gt_label=torch.tensor([0]))])


# -- objects changed in place, and small files that allocate much ------------
def _snapshot(objs):
    return [(getattr(o, '__defaults__', None),
             getattr(o, '__kwdefaults__', None),
             dict(getattr(o, '__dict__', {}))) for o in objs]


def _allowed_objects():
    from mmghm.utils.predictions import _PredictionsUnpickler
    return list(_PredictionsUnpickler._ALLOWED.values()) + [
        torch._utils._rebuild_tensor_v2, torch.storage._load_from_bytes]


def _build_on_global(module, name):
    """GLOBAL module.name, then BUILD (None, {'__defaults__': (1,)})."""
    return (b'\x80\x02c' + module.encode() + b'\n' + name.encode() + b'\n'
            + b'N}X\x0c\x00\x00\x00__defaults__K\x01\x85s\x86b.')


@pytest.mark.parametrize('module, name', [
    ('torch._utils', '_rebuild_tensor_v2'),
    ('torch.storage', '_load_from_bytes'),
    ('_codecs', 'encode'),
    ('collections', 'OrderedDict'),
])
def test_build_on_an_allowed_global_is_refused_and_changes_nothing(
        tmp_path, module, name):
    before = _snapshot(_allowed_objects())
    path = tmp_path / 'evil.pkl'
    path.write_bytes(_build_on_global(module, name))
    with pytest.raises(CheckpointRefusedError, match='BUILD'):
        load_predictions(str(path))
    assert _snapshot(_allowed_objects()) == before
    # A clean file still loads exactly afterwards.
    samples = _samples()
    mmengine.dump(samples, str(tmp_path / 'clean.pkl'))
    loaded = load_predictions(str(tmp_path / 'clean.pkl'))
    assert all(torch.equal(a['pred_score'], b['pred_score'])
               for a, b in zip(loaded, samples))


def test_a_function_as_a_value_is_refused(tmp_path):
    path = tmp_path / 'evil.pkl'
    path.write_bytes(b'\x80\x02]ctorch._utils\n_rebuild_tensor_v2\na.')
    with pytest.raises(CheckpointRefusedError, match='only dicts, lists'):
        load_predictions(str(path))


def test_one_tensor_shared_by_many_samples_is_refused(tmp_path):
    """Through the pickle memo, one stride-0 tensor would stand for
    samples x width floats (1 GiB from a 732-byte file)."""
    shared = torch.zeros(1).expand(1000)
    with pytest.raises(CheckpointRefusedError, match='expanded tensor'):
        path = tmp_path / 'expanded.pkl'
        with open(path, 'wb') as f:
            pickle.dump([dict(pred_score=shared, gt_label=torch.tensor(
                [0]))], f, protocol=2)
        load_predictions(str(path))
    dense = torch.rand(1000)
    path = tmp_path / 'shared.pkl'
    with open(path, 'wb') as f:
        pickle.dump([dict(pred_score=dense, gt_label=torch.tensor([0]))
                     for _ in range(50)], f, protocol=2)
    with pytest.raises(CheckpointRefusedError, match='more than once'):
        load_predictions(str(path))


def test_a_storage_that_declares_more_bytes_than_it_has_is_refused(
        tmp_path):
    buf = io.BytesIO()
    with warnings.catch_warnings():  # TypedStorage, as tensors pickle it
        warnings.simplefilter('ignore')
        torch.save(torch.zeros(4).storage(), buf,
                   _use_new_zipfile_serialization=False)

    class Short:
        def __reduce__(self):  # 8 of the storage's 16 bytes
            return torch.storage._load_from_bytes, (buf.getvalue()[:-8], )

    path = tmp_path / 'short.pkl'
    with open(path, 'wb') as f:
        pickle.dump([Short()], f, protocol=2)
    with pytest.raises(CheckpointRefusedError, match='elements in 8 bytes'):
        load_predictions(str(path))
