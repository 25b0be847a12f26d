"""load_predictions reads what tools/test.py --out writes (MMEngine's
pickle of DumpResults) and refuses anything that would run code."""
import io
import pickle

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
