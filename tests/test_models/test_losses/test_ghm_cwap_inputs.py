"""GHMCWAPLoss: host-library call signatures, bad input, dtypes, state."""
import pytest
import torch
import torch.nn.functional as F

from mmghm.models.losses import GHMCWAPLoss
from mmghm.registry import MODELS


def trained_loss(C=4, N=6, **kwargs):
    """A loss that has seen two epochs of random data."""
    loss = GHMCWAPLoss(C, num_bins=N, **kwargs)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        for _ in range(3):
            loss(torch.randn(32, C, generator=gen) * 3,
                 torch.randint(0, C, (32, ), generator=gen))
        loss.update()
    loss(torch.randn(32, C, generator=gen) * 3,
         torch.randint(0, C, (32, ), generator=gen))
    return loss


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_state_equal(module, state):
    for k, v in module.state_dict().items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_bins=1), 'num_bins'),
    (dict(num_bins=2.5), 'num_bins'),
    (dict(alpha=-0.1), 'alpha'),
    (dict(alpha=1.5), 'alpha'),
    (dict(gamma=-1), 'gamma'),
    (dict(gamma=float('nan')), 'gamma'),
    (dict(intra_weight='literal'), 'intra_weight'),
    (dict(inter='yes'), 'inter'),
    (dict(reduction='avg'), 'reduction'),
    (dict(loss_name='ghm'), 'loss_name'),
    (dict(use_sigmoid=True), 'sigmoid'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GHMCWAPLoss(10, **kwargs)
    with pytest.raises(ValueError, match='num_classes'):
        GHMCWAPLoss(1)


@pytest.mark.parametrize('make_input, match', [
    (lambda: (torch.randn(8, 5), torch.randint(0, 4, (8, ))), 'num_classes'),
    (lambda: (torch.randn(8, 4), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])),
     r'\[4\]'),
    (lambda: (torch.randn(8, 4), torch.tensor([0, 1, -1, 3, 0, 0, 1, 2])),
     r'\[-1\]'),
    (lambda: (torch.randn(8, 4), torch.softmax(torch.randn(8, 4), 1)),
     'Mixup'),
    (lambda: (torch.randn(8, 4), torch.zeros(8)), 'integer'),
    (lambda: (torch.randn(8, 4), torch.zeros(7, dtype=torch.long)), 'shape'),
    (lambda: (torch.randn(8), torch.zeros(8, dtype=torch.long)), 'cls_score'),
])
def test_bad_input_changes_no_state(make_input, match):
    loss = trained_loss()
    state = snapshot(loss)
    cls_score, label = make_input()
    with pytest.raises(ValueError, match=match):
        loss(cls_score, label)
    assert_state_equal(loss, state)


def test_ignored_labels_and_empty_batch():
    loss = trained_loss()
    state = snapshot(loss)
    logits = torch.randn(6, 4, requires_grad=True)
    out = loss(logits, torch.full((6, ), 255), ignore_index=255)
    assert torch.isfinite(out) and out.item() == 0
    out.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    empty = torch.randn(0, 4, requires_grad=True)
    out = loss(empty, torch.zeros(0, dtype=torch.long))
    assert torch.isfinite(out) and out.requires_grad
    out.backward()
    assert_state_equal(loss, state)


def test_ignored_labels_do_not_enter_histograms():
    loss = GHMCWAPLoss(3, num_bins=5, ignore_index=255)
    logits = torch.randn(10, 3)
    labels = torch.tensor([0, 1, 255, 2, 255, 0, 1, 2, 255, 0])
    loss(logits, labels)
    assert loss.density.sum().item() == pytest.approx(7.0)
    per_class = loss.density.sum(1)
    torch.testing.assert_close(per_class, torch.tensor([3., 2., 2.]),
                               check_dtype=False)
    # ignored entries do not change the loss of the others
    keep = labels != 255
    fresh = GHMCWAPLoss(3, num_bins=5)
    torch.testing.assert_close(
        GHMCWAPLoss(3, num_bins=5, ignore_index=255)(logits, labels),
        fresh(logits[keep], labels[keep]))


def test_nan_logits_never_poison_histograms():
    loss = GHMCWAPLoss(4, num_bins=6)  # uniform bins: each example adds 1
    logits = torch.randn(8, 4)
    logits[2, 1] = float('nan')
    logits[5, 0] = float('inf')
    logits[6, 3] = float('-inf')  # a masked non-target logit is fine
    labels = torch.tensor([0, 1, 2, 3, 0, 1, 2, 0])
    loss(logits, labels)
    assert torch.isfinite(loss.density).all()
    torch.testing.assert_close(loss.density.sum(1),
                               torch.tensor([3., 1., 1., 1.]),
                               check_dtype=False)
    loss.update()
    for name in ('edges', 'density', 'ref_density'):
        assert torch.isfinite(getattr(loss, name)).all(), name


def test_segmentation_input_with_ignore_index():
    C = 5
    loss = GHMCWAPLoss(C, num_bins=6)
    logits = torch.randn(2, C, 4, 3, requires_grad=True)
    labels = torch.randint(0, C, (2, 4, 3))
    labels[0, 0, :] = 255
    out = loss(logits, labels, ignore_index=255)
    flat_logits = logits.detach().movedim(1, -1).reshape(-1, C)
    flat_labels = labels.reshape(-1)
    keep = flat_labels != 255
    expected = GHMCWAPLoss(C, num_bins=6)(flat_logits[keep],
                                          flat_labels[keep])
    torch.testing.assert_close(out, expected)
    assert loss.density.sum().item() == pytest.approx(keep.sum().item())
    per_pixel = GHMCWAPLoss(C, num_bins=6)(
        logits, labels, ignore_index=255, reduction_override='none')
    assert per_pixel.shape == labels.shape
    assert (per_pixel[0, 0] == 0).all()
    out.backward()
    assert torch.isfinite(logits.grad).all()
    assert loss.loss_name.startswith('loss_')


def test_weight_avg_factor_and_reductions():
    loss = trained_loss()
    loss.eval()
    logits = torch.randn(8, 4)
    labels = torch.randint(0, 4, (8, ))
    per = loss(logits, labels, reduction_override='none')
    assert per.shape == (8, )
    torch.testing.assert_close(
        loss(logits, labels, reduction_override='sum'), per.sum())
    torch.testing.assert_close(loss(logits, labels), per.mean())
    weight = torch.rand(8)
    torch.testing.assert_close(
        loss(logits, labels, weight=weight, avg_factor=3.0),
        (per * weight).sum() / 3.0)
    scaled = GHMCWAPLoss(4, num_bins=6, loss_weight=2.5)
    scaled.load_state_dict(loss.state_dict())
    scaled.eval()
    torch.testing.assert_close(scaled(logits, labels), 2.5 * per.mean())


def test_zero_weight_examples_are_not_counted():
    # MMDetection passes label_weights; weight 0 means "not sampled"
    loss = GHMCWAPLoss(3, num_bins=4)
    loss(torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2]),
         weight=torch.tensor([1., 0., 1., 1., 0., 1.]))
    torch.testing.assert_close(loss.density.sum(1),
                               torch.tensor([2., 0., 2.]), check_dtype=False)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_low_precision_inputs_keep_full_precision_statistics(dtype):
    ref = trained_loss()
    low = trained_loss().half()
    # .half() keeps every state buffer's dtype and its exact values (the
    # float64 density is not sent through float16 and back).
    for name, dtype_ in (('edges', torch.float32),
                         ('density', torch.float64),
                         ('ref_density', torch.float32),
                         ('ref_edges', torch.float32)):
        assert getattr(low, name).dtype == dtype_
        assert torch.equal(getattr(low, name), getattr(ref, name)), name
    logits = torch.randn(16, 4) * 3
    labels = torch.randint(0, 4, (16, ))
    z = logits.to(dtype).requires_grad_(True)
    out = low(z, labels)
    expected = ref(z.detach().float(), labels)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(low.density, ref.density)
    out.backward()
    assert z.grad.dtype == dtype
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = low(logits.to(torch.bfloat16), labels)
    assert out.dtype == torch.float32 and torch.isfinite(out)


def test_state_dict_round_trip_gives_identical_next_loss():
    loss = trained_loss(C=5, N=7)
    restored = GHMCWAPLoss(5, num_bins=7)
    restored.load_state_dict(loss.state_dict())
    for name in ('edges', 'density', 'ref_density', 'num_updates'):
        assert torch.equal(getattr(restored, name), getattr(loss, name))
    logits = torch.randn(20, 5) * 2
    labels = torch.randint(0, 5, (20, ))
    assert torch.equal(loss(logits, labels), restored(logits, labels))
    assert torch.equal(loss.density, restored.density)


def test_registered_and_built_from_config():
    loss = MODELS.build(dict(type='mmghm.GHMCWAPLoss', num_classes=10))
    assert isinstance(loss, GHMCWAPLoss)
    assert (loss.num_bins, loss.alpha, loss.gamma) == (30, 0.9, 0.8)
    assert loss.intra and loss.inter and loss.adaptive
    assert loss.intra_weight == 'tempered'


def test_in_mmpretrain_linear_cls_head():
    from mmpretrain.models.heads import LinearClsHead
    from mmpretrain.structures import DataSample
    head = LinearClsHead(
        num_classes=4, in_channels=8,
        loss=dict(type='mmghm.GHMCWAPLoss', num_classes=4))
    feats = (torch.randn(6, 8), )
    samples = [DataSample().set_gt_label(i % 4) for i in range(6)]
    losses = head.loss(feats, samples)
    assert torch.isfinite(losses['loss'])
    assert head.loss_module.density.sum().item() == pytest.approx(6.0)
    # Mixup/CutMix soft targets give a clear error
    soft = [DataSample().set_gt_score(torch.full((4, ), 0.25))
            for _ in range(6)]
    with pytest.raises(ValueError, match='Mixup'):
        head.loss(feats, soft)


def test_plain_ce_when_everything_off():
    loss = GHMCWAPLoss(6, intra=False, inter=False)
    logits = torch.randn(12, 6, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 6, (12, ))
    out = loss(logits, labels)
    logits2 = logits.detach().clone().requires_grad_(True)
    expected = F.cross_entropy(logits2, labels)
    torch.testing.assert_close(out, expected)
    out.backward()
    expected.backward()
    torch.testing.assert_close(logits.grad, logits2.grad)
