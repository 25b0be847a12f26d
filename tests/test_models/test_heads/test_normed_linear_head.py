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


def ref_ldam_loss(x, w, labels, counts, max_m=0.5, s=30.0):
    """LDAM (Cao et al., Eq. 13) on cosine logits, in float64, mean over the
    batch: CE(s * (cos - m_y e_y), y), m_c = max_m * n_c^(-1/4) / max_k
    n_k^(-1/4)."""
    unit_x = x / x.norm(dim=1, keepdim=True)
    cos = unit_x @ (w / w.norm(dim=0, keepdim=True))
    raw = [n**-0.25 for n in counts]
    margins = torch.tensor([max_m * r / max(raw) for r in raw],
                           dtype=torch.float64)
    z = s * (cos - torch.nn.functional.one_hot(labels, len(counts)) *
             margins[labels].unsqueeze(1))
    return -torch.log_softmax(z, dim=1).gather(1, labels[:, None]).mean()


def test_loss_and_predict_with_ldam():
    """ClsHead.loss through the cosine logits and LDAM (values and weight
    gradient against a float64 reference); predict gives the argmax and
    softmax of the cosine logits."""
    counts = [40, 20, 5, 1]
    torch.manual_seed(0)  # the head's own uniform init
    head = MODELS.build(
        dict(type='mmghm.NormedLinearClsHead', num_classes=4,
             in_channels=6,
             loss=dict(type='mmghm.LDAMLoss', num_classes=4,
                       class_counts=counts)))
    # Columns no longer of unit norm (as after training): the cosine
    # logits must not depend on their norms.
    with torch.no_grad():
        head.weight.mul_(torch.tensor([0.5, 2.0, 3.0, 1.0]))
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 3, 0])
    samples = [DataSample().set_gt_label(int(i)) for i in labels]
    losses = head.loss((x, ), samples)
    losses['loss'].backward()

    w = head.weight.detach().double().requires_grad_(True)
    expected = ref_ldam_loss(x.double(), w, labels, counts)
    expected.backward()
    torch.testing.assert_close(losses['loss'].double(), expected,
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(head.weight.grad.double(), w.grad,
                               rtol=1e-4, atol=1e-6)

    preds = head.predict((x, ))
    cos = ref_cosine(x.double(), head.weight.detach().double())
    assert [int(p.pred_label) for p in preds] == cos.argmax(1).tolist()
    torch.testing.assert_close(
        torch.stack([p.pred_score for p in preds]).double(),
        cos.softmax(dim=1), rtol=1e-5, atol=1e-6)


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
