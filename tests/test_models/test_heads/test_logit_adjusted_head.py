"""LogitAdjustedLinearClsHead: predictions argmax(z - tau log n) (Menon et
al.), training identical to MMPretrain's LinearClsHead."""
import math

import pytest
import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample

from mmghm.models.heads import LogitAdjustedLinearClsHead
from mmghm.registry import MODELS

COUNTS = [900, 300, 60, 12]


def _pair(tau=1.0):
    torch.manual_seed(0)
    plain = LinearClsHead(num_classes=4, in_channels=6)
    head = MODELS.build(dict(type='mmghm.LogitAdjustedLinearClsHead',
                             num_classes=4, in_channels=6, tau=tau,
                             class_counts=COUNTS))
    head.load_state_dict(plain.state_dict(), strict=False)
    return plain, head


def _reference(logits, tau):
    """Adjusted logits with loops from the definition."""
    return torch.tensor([[z - tau * math.log(n) for z, n in zip(row, COUNTS)]
                         for row in logits.tolist()])


@pytest.mark.parametrize('tau', [0.0, 0.5, 1.0, 2.0])
def test_predictions_are_the_adjusted_argmax_and_softmax(tau):
    plain, head = _pair(tau)
    feats = (torch.randn(16, 6) * 3, )
    adjusted = _reference(plain(feats), tau)
    preds = head.predict(feats)
    assert [int(p.pred_label) for p in preds] == \
        adjusted.argmax(1).tolist()
    scores = torch.stack([p.pred_score for p in preds])
    torch.testing.assert_close(scores, adjusted.softmax(1), atol=1e-6,
                               rtol=1e-5)
    if tau == 0:
        assert [int(p.pred_label) for p in preds] == \
            [int(p.pred_label) for p in plain.predict(feats)]


def test_loss_and_gradients_are_the_plain_heads():
    plain, head = _pair(1.0)
    feats = (torch.randn(8, 6), )
    samples = [DataSample().set_gt_label(i % 4) for i in range(8)]
    lp, lh = plain.loss(feats, samples), head.loss(feats, samples)
    torch.testing.assert_close(lh['loss'], lp['loss'])
    lp['loss'].backward()
    lh['loss'].backward()
    torch.testing.assert_close(head.fc.weight.grad, plain.fc.weight.grad)


def test_needs_counts_before_predicting_and_keeps_them_in_state_dict():
    head = LogitAdjustedLinearClsHead(num_classes=4, in_channels=6)
    with pytest.raises(RuntimeError, match='ClassCountsHook'):
        head.predict((torch.randn(2, 6), ))
    head.set_class_counts(COUNTS)
    fresh = LogitAdjustedLinearClsHead(num_classes=4, in_channels=6)
    fresh.load_state_dict(head.state_dict())
    assert fresh.has_counts
    torch.testing.assert_close(fresh.log_counts,
                               torch.tensor(COUNTS).float().log())
    assert 'log_counts' not in head.state_dict()


def test_plain_checkpoint_loads_strictly_and_keeps_the_heads_counts():
    """A LinearClsHead checkpoint has no counts; they are data, not
    weights, so nothing is reported missing and the head keeps its own."""
    plain, _ = _pair()
    head = LogitAdjustedLinearClsHead(num_classes=4, in_channels=6,
                                      class_counts=COUNTS)
    missing, unexpected = head.load_state_dict(plain.state_dict(),
                                               strict=True)
    assert missing == [] and unexpected == []
    assert head.has_counts
    assert head.class_counts.tolist() == COUNTS
    torch.testing.assert_close(head.fc.weight, plain.fc.weight,
                               rtol=0, atol=0)


def test_a_state_dict_with_only_one_of_the_count_buffers_is_incomplete():
    plain, _ = _pair()
    state = dict(plain.state_dict(), class_counts=torch.ones(4))
    head = LogitAdjustedLinearClsHead(num_classes=4, in_channels=6)
    missing, _ = head.load_state_dict(state, strict=False)
    assert missing == ['_counts_set']


@pytest.mark.parametrize('kwargs, match', [
    (dict(tau=-0.5), 'tau must be'),
    (dict(tau='1'), 'tau must be'),
    (dict(class_counts=[1, 2, 3]), '4'),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LogitAdjustedLinearClsHead(num_classes=4, in_channels=6, **kwargs)
