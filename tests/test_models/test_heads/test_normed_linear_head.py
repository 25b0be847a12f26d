"""NormedLinearClsHead: cosine logits of LDAM-DRW's normed classifier."""
import math

import pytest
import torch
from mmpretrain.structures import DataSample

from mmghm.models.heads import NormedLinearClsHead
from mmghm.registry import MODELS


def ref_cosine(x, w):
    """cos(x_b, w_c) with loops; w is (in_channels, num_classes)."""
    out = []
    for row in x.tolist():
        nx = math.sqrt(sum(v * v for v in row))
        line = []
        for c in range(w.shape[1]):
            col = w[:, c].tolist()
            nw = math.sqrt(sum(v * v for v in col))
            line.append(sum(a * b for a, b in zip(row, col)) / (nx * nw))
        out.append(line)
    return torch.tensor(out, dtype=torch.float64)


def test_cosine_logits_and_init():
    torch.manual_seed(0)
    head = NormedLinearClsHead(num_classes=5, in_channels=8)
    assert torch.allclose(head.weight.norm(dim=0), torch.ones(5))
    assert (head.weight.abs() <= 1).all()
    head.double()
    x = torch.randn(6, 8, dtype=torch.float64) * 4
    out = head((x, ))
    assert torch.allclose(out, ref_cosine(x, head.weight.detach()))
    assert (out.abs() <= 1 + 1e-12).all()
    # invariant to the feature scale
    assert torch.allclose(head((3 * x, )), out)
    scaled = NormedLinearClsHead(num_classes=5, in_channels=8, scale=16.0)
    scaled.double()
    scaled.weight.data.copy_(head.weight.data)
    assert torch.allclose(scaled((x, )), 16 * out)


def test_loss_and_predict_with_ldam():
    head = MODELS.build(
        dict(type='mmghm.NormedLinearClsHead', num_classes=4,
             in_channels=6,
             loss=dict(type='mmghm.LDAMLoss', num_classes=4,
                       class_counts=[40, 20, 5, 1])))
    x = torch.randn(5, 6)
    samples = [DataSample().set_gt_label(i % 4) for i in range(5)]
    losses = head.loss((x, ), samples)
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert head.weight.grad is not None and \
        torch.isfinite(head.weight.grad).all()
    preds = head.predict((x, ))
    assert len(preds) == 5
    assert int(preds[0].pred_label) == int(head((x, ))[0].argmax())


def test_zero_feature_is_finite():
    head = NormedLinearClsHead(num_classes=3, in_channels=4)
    out = head((torch.zeros(2, 4), ))
    assert torch.equal(out, torch.zeros(2, 3))


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_classes=0, in_channels=4), 'num_classes'),
    (dict(num_classes=3, in_channels=-1), 'in_channels'),
    (dict(num_classes=3, in_channels=4, scale=0), 'scale'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NormedLinearClsHead(**kwargs)


def test_bad_feature_shape():
    head = NormedLinearClsHead(num_classes=3, in_channels=4)
    with pytest.raises(ValueError, match='GlobalAveragePooling'):
        head((torch.randn(2, 4, 3, 3), ))
