"""One interface for every loss in mmghm's MODELS registry.

Parametrised over all registered names ending with 'Loss' (GHM-CWAP and the
baselines alike, and any loss added later): each is built from a config
with ``type='mmghm.X'``, called as MMPretrain's ClsHead calls it, used
inside a real ``LinearClsHead``, and checked for the shared conventions.
"""
import inspect

import pytest
import torch
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample

import mmghm.models  # noqa: F401  (registers everything)
from mmghm.models.losses.utils import check_cls_inputs
from mmghm.registry import MODELS

C = 6
COUNTS = [200, 80, 30, 9, 2, 0]
LOSS_NAMES = sorted(n for n in MODELS.module_dict if n.endswith('Loss'))


def loss_cfg(name, **extra):
    cfg = dict(type=f'mmghm.{name}', **extra)
    params = inspect.signature(MODELS.get(name)).parameters
    if 'num_classes' in params:
        cfg.setdefault('num_classes', C)
    if 'class_counts' in params:
        cfg.setdefault('class_counts', COUNTS)
    return cfg


def build(name, **extra):
    torch.manual_seed(0)
    return MODELS.build(loss_cfg(name, **extra)).train()


def batch(B=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(B, C, generator=gen) * 2
    y = torch.arange(B) % (C - 1)  # the empty class is never a label
    return z, y


def call(loss, *args, **kwargs):
    torch.manual_seed(1)  # losses with random parts draw the same
    return loss(*args, **kwargs)


def test_every_baseline_is_registered():
    expected = {
        'ClassBalancedLoss', 'EffectiveNumberLoss', 'SoftmaxFocalLoss',
        'GHMCLoss', 'EqualizationLoss', 'DistSeesawLoss', 'LDAMLoss',
        'BalancedSoftmaxLoss'
    }
    assert expected <= set(LOSS_NAMES)


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_cls_head_call_gives_finite_loss_and_gradient(name):
    loss = build(name)
    z, y = batch()
    z.requires_grad_()
    out = call(loss, z, y, avg_factor=z.shape[0])  # ClsHead's call
    assert out.dim() == 0 and out.dtype == torch.float32
    assert torch.isfinite(out)
    out.backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert isinstance(loss.loss_name, str) and \
        loss.loss_name.startswith('loss_')
    assert loss.reduction == 'mean' and loss.loss_weight == 1.0


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_inside_a_linear_cls_head(name):
    torch.manual_seed(0)
    head = LinearClsHead(num_classes=C, in_channels=8, loss=loss_cfg(name))
    head.train()
    x = torch.randn(12, 8)
    samples = [DataSample().set_gt_label(i % (C - 1)) for i in range(12)]
    torch.manual_seed(1)
    losses = head.loss((x, ), samples)
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert torch.isfinite(head.fc.weight.grad).all()


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_reductions_weight_and_loss_weight(name):
    z, y = batch()
    w = torch.rand(16, generator=torch.Generator().manual_seed(2))
    w[3] = 0.5  # no zero weights: some losses skip those in statistics
    per = call(build(name), z, y, weight=w, reduction_override='none')
    assert per.shape == (16, )
    mean = call(build(name), z, y, weight=w)
    total = call(build(name), z, y, weight=w, reduction_override='sum')
    assert torch.allclose(total, per.sum(), rtol=1e-5)
    assert torch.allclose(mean * 16, total, rtol=1e-5)
    avg = call(build(name), z, y, weight=w, avg_factor=5.0)
    assert torch.allclose(avg, total / 5.0, rtol=1e-5)
    doubled = call(build(name, loss_weight=2.0), z, y, weight=w)
    assert torch.allclose(doubled, 2 * mean, rtol=1e-5)
    with pytest.raises(ValueError, match='reduction'):
        build(name, reduction='average')
    with pytest.raises(ValueError, match='reduction'):
        call(build(name), z, y, reduction_override='average')


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_ignore_index(name):
    z, y = batch()
    y_ign = y.clone()
    y_ign[[0, 5, 9]] = 255
    loss = build(name)
    out = call(loss, z, y_ign, ignore_index=255, reduction_override='none')
    assert torch.isfinite(out).all()
    assert torch.equal(out[[0, 5, 9]], torch.zeros(3))
    # the constructor argument works the same way
    out2 = call(build(name, ignore_index=255), z, y_ign,
                reduction_override='none')
    assert torch.allclose(out, out2)
    everything = call(build(name), z, torch.full_like(y, 255),
                      ignore_index=255)
    assert torch.isfinite(everything) and float(everything) == 0.0


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_dense_inputs_as_in_segmentation(name):
    # (N, C, H, W) logits and (N, H, W) labels, one example per pixel
    gen = torch.Generator().manual_seed(4)
    z = torch.randn(2, C, 3, 4, generator=gen)
    y = torch.randint(0, C - 1, (2, 3, 4), generator=gen)
    dense = call(build(name), z, y, reduction_override='none')
    assert dense.shape == (2, 3, 4)
    flat = call(build(name), z.permute(0, 2, 3, 1).reshape(-1, C),
                y.reshape(-1), reduction_override='none')
    assert torch.allclose(dense.reshape(-1), flat, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_empty_batch(name):
    z = torch.zeros(0, C, requires_grad=True)
    out = call(build(name), z, torch.zeros(0, dtype=torch.long))
    assert torch.isfinite(out) and float(out) == 0.0
    out.backward()


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_bad_inputs_raise_clear_errors(name):
    loss = build(name)
    z, y = batch()
    if getattr(loss, 'num_classes', None) is not None:
        with pytest.raises(ValueError, match='num_classes'):
            call(loss, torch.randn(16, C + 1), y)
    with pytest.raises(ValueError, match=r'\[9\]'):
        call(loss, z, torch.where(y == 0, 9, y))
    with pytest.raises(ValueError, match='shape'):
        call(loss, z, y[:-1])
    with pytest.raises(ValueError, match='integer'):
        call(loss, z, y.float())
    with pytest.raises(ValueError, match='loss_name'):
        build(name, loss_name='no_prefix')


#: The losses that define a soft-target (Mixup/CutMix) form.
SOFT_TARGET_LOSSES = {
    'BalancedSoftmaxLoss', 'ClassBalancedLoss', 'EffectiveNumberLoss'
}


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_soft_targets_are_supported_or_rejected_clearly(name):
    """Losses with a soft form give, for one-hot soft targets, exactly their
    hard-label loss; the others refuse soft targets naming Mixup."""
    z, y = batch()
    loss = build(name)
    assert loss.supports_soft_target == (name in SOFT_TARGET_LOSSES)
    one_hot = torch.nn.functional.one_hot(y, C).float()
    if name in SOFT_TARGET_LOSSES:
        soft = torch.softmax(torch.randn(16, C), dim=1)  # Mixup/CutMix
        assert torch.isfinite(call(loss, z, soft, avg_factor=16))
        torch.testing.assert_close(call(loss, z, one_hot, avg_factor=16),
                                   call(build(name), z, y, avg_factor=16))
    else:
        with pytest.raises(ValueError, match='soft targets.*Mixup'):
            call(loss, z, one_hot, avg_factor=16)


def numeric_arguments(name):
    """(argument, default) of every numeric constructor argument."""
    params = inspect.signature(MODELS.get(name)).parameters
    out = []
    for arg, p in params.items():
        if arg == 'num_classes':
            out.append((arg, C))
        elif isinstance(p.default, (int, float)) and \
                not isinstance(p.default, bool):
            out.append((arg, p.default))
        elif arg in ('ignore_index', 'drw_start_epoch', 'background_index'):
            out.append((arg, 1))
    return out


NUMERIC = [(name, arg, default) for name in LOSS_NAMES
           for arg, default in numeric_arguments(name)]


@pytest.mark.parametrize('name, arg, default', NUMERIC,
                         ids=[f'{n}-{a}' for n, a, _ in NUMERIC])
def test_every_numeric_argument_is_checked_by_name(name, arg, default):
    """issue 11: NaN, infinities, strings and bools are refused with an error
    that names the argument; integer arguments refuse fractions."""
    bad = [float('nan'), float('inf'), 'a', True]
    if isinstance(default, int):
        bad.append(2.5)
    for value in bad:
        with pytest.raises(ValueError, match=rf'^{arg} must be'):
            MODELS.build(loss_cfg(name, **{arg: value}))
    MODELS.build(loss_cfg(name, **{arg: default}))  # the default is fine


def test_numeric_arguments_cover_the_known_ones():
    found = {(n, a) for n, a, _ in NUMERIC}
    for expected in [('GHMCWAPLoss', 'alpha'), ('GHMCWAPLoss', 'gamma'),
                     ('GHMCWAPLoss', 'num_bins'),
                     ('GHMCWAPLoss', 'loss_weight'), ('LDAMLoss', 's'),
                     ('DistSeesawLoss', 'eps'), ('GHMCLoss', 'momentum'),
                     ('EqualizationLoss', 'lambda_'),
                     ('BalancedSoftmaxLoss', 'tau')]:
        assert expected in found


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_state_dict_round_trip(name):
    loss = build(name)
    for seed in range(3):  # let stateful losses accumulate statistics
        call(loss, *batch(seed=seed))
    z, y = batch(seed=7)
    fresh = MODELS.build({
        k: v
        for k, v in loss_cfg(name).items() if k != 'class_counts'
    }).train()
    fresh.load_state_dict(loss.state_dict())
    assert torch.equal(call(fresh, z, y), call(loss, z, y))


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_half_precision_inputs(name):
    z, y = batch()
    loss = build(name)
    ref = call(build(name), z, y)
    out = call(loss, z.half(), y)
    assert out.dtype == torch.float32
    assert torch.allclose(out, ref, rtol=2e-2, atol=1e-3)


# ---------------------------------------------------------------------------
# the shared validation helper
# ---------------------------------------------------------------------------
@pytest.mark.parametrize('score, label, kwargs, match', [
    (torch.randn(4), torch.zeros(4, dtype=torch.long), {}, r'\(N, C\)'),
    (torch.randint(0, 3, (4, 3)), torch.zeros(4, dtype=torch.long), {},
     'floating'),
    (torch.randn(4, 3), torch.zeros(4, dtype=torch.long),
     dict(num_classes=5), 'num_classes=5'),
    (torch.randn(4, 3), [0, 1, 2, 0], {}, 'tensor'),
    (torch.randn(4, 3), torch.full((4, 3), 1 / 3), {}, 'Mixup'),
    (torch.randn(4, 3), torch.zeros(4), {}, 'integer'),
    (torch.randn(4, 3), torch.zeros(4, dtype=torch.bool), {}, 'integer'),
    (torch.randn(4, 3), torch.zeros(4, 1, dtype=torch.long), {},
     r'must be \(4,\)'),
    (torch.randn(2, 3, 5), torch.zeros(2, 4, dtype=torch.long), {},
     r'must be \(2, 5\)'),
    (torch.randn(4, 3), torch.tensor([0, 3, -1, 3]), {}, r'\[-1, 3\]'),
    (torch.randn(4, 3), torch.tensor([0, 3, 255, 1]),
     dict(ignore_index=255), r'\[3\].*ignore_index=255'),
])
def test_check_cls_inputs_errors(score, label, kwargs, match):
    num_classes = kwargs.pop('num_classes', None)
    with pytest.raises(ValueError, match=match):
        check_cls_inputs(score, label, num_classes, **kwargs)


def test_check_cls_inputs_accepts_valid_inputs():
    check_cls_inputs(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), 3)
    check_cls_inputs(torch.randn(2, 3, 5, 5),
                     torch.randint(0, 3, (2, 5, 5)), 3)
    check_cls_inputs(torch.randn(3, 3), torch.tensor([0, 255, 2]), None,
                     ignore_index=255)
    check_cls_inputs(torch.randn(0, 3), torch.zeros(0, dtype=torch.long), 3)


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_forward_and_backward_trace_as_one_graph(name):
    """No host synchronisation: torch.compile(fullgraph=True) refuses any
    read of a tensor's value on the host (``.item()``, ``bool(t)``,
    data-dependent shapes) in the forward or backward of every loss, ignored
    labels and example weights included. (The CUDA tests check the same
    with ``set_sync_debug_mode('error')`` on a GPU.)"""
    loss = build(name, ignore_index=255)
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(0)
    torch._dynamo.reset()
    traced = torch.compile(loss, fullgraph=True, backend='eager')
    z, y = batch()
    y[:3] = 255
    w = torch.rand(16, generator=torch.Generator().manual_seed(3))
    z.requires_grad_()
    out = call(traced, z, y, weight=w, avg_factor=16)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(z.grad).all()
