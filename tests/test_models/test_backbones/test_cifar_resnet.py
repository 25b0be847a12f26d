"""Tests of CifarResNet, the 6n+2 ResNet of He et al. (2016) for CIFAR."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import mmghm  # noqa: F401  (registers the modules)
from mmghm.models.backbones import CifarResNet, ZeroPadShortcut
from mmghm.registry import MODELS


# --- Independent reference, written from He et al. Sec. 4.2 / LDAM-DRW ------
class _RefBlock(nn.Module):

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2 if (stride != 1 or cin != cout) else None
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.pad is None:
            short = x
        else:  # option A, exactly LDAM-DRW's lambda
            short = F.pad(x[:, :, ::2, ::2],
                          (0, 0, 0, 0, self.pad, self.pad), 'constant', 0)
        return F.relu(out + short)


class _RefResNet(nn.Module):

    def __init__(self, n: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                blocks.append(_RefBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(F.relu(self.bn1(self.conv1(x))))


def _expected_params(depth: int, num_classes: int = 0,
                     shortcut: str = 'A') -> int:
    """Parameter count of the 6n+2 network, counted from its definition."""
    n = (depth - 2) // 6
    total = 3 * 16 * 9 + 2 * 16  # stem conv + BN
    cin = 16
    for cout in (16, 32, 64):
        for i in range(n):
            block_in = cin if i == 0 else cout
            total += block_in * cout * 9 + cout * cout * 9 + 2 * 2 * cout
            if i == 0 and block_in != cout and shortcut == 'B':
                total += block_in * cout + 2 * cout  # 1x1 conv + BN
        cin = cout
    if num_classes:
        total += 64 * num_classes + num_classes
    return total


def _num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_resnet32_parameter_count_matches_ldam_drw():
    net = CifarResNet(depth=32)
    assert _num_params(net) == _expected_params(32) == 463504
    # With the 64 -> 10 linear classifier: the 0.46M of Cui et al./LDAM-DRW.
    assert _expected_params(32, 10) == 464154
    assert round((_num_params(net) + 650) / 1e6, 2) == 0.46


@pytest.mark.parametrize('depth', [20, 44, 56, 110])
def test_parameter_count_other_depths(depth):
    assert _num_params(CifarResNet(depth=depth)) == _expected_params(depth)


def test_option_b_adds_two_projections():
    net = CifarResNet(depth=32, shortcut='B')
    assert _num_params(net) == _expected_params(32, shortcut='B')
    assert _num_params(net) - _num_params(CifarResNet(depth=32)) == (
        16 * 32 + 64 + 32 * 64 + 128)


@pytest.mark.parametrize('train_mode', [False, True])
def test_matches_reference_network(train_mode):
    torch.manual_seed(0)
    ref = _RefResNet(n=5)
    net = CifarResNet(depth=32)
    ref_state = list(ref.state_dict().items())
    net_state = list(net.state_dict().items())
    assert len(ref_state) == len(net_state)
    for (_, ref_t), (name, net_t) in zip(ref_state, net_state):
        assert ref_t.shape == net_t.shape, name
    # Random BN statistics/affine so that eval mode is a real check.
    with torch.no_grad():
        for t in ref.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) * 0.5 + 0.5)
    net.load_state_dict(
        {name: t for (name, _), (_, t) in zip(net_state, ref_state)})
    ref.train(train_mode)
    net.train(train_mode)
    x = torch.randn(4, 3, 32, 32)
    (out, ) = net(x)
    assert out.shape == (4, 64, 8, 8)
    torch.testing.assert_close(out, ref(x))


def test_zero_pad_shortcut_values():
    x = torch.arange(2 * 16 * 4 * 4, dtype=torch.float32).view(2, 16, 4, 4)
    y = ZeroPadShortcut(16, 32, 2)(x)
    assert y.shape == (2, 32, 2, 2)
    assert (y[:, :8] == 0).all() and (y[:, 24:] == 0).all()
    torch.testing.assert_close(y[:, 8:24], x[:, :, ::2, ::2])
    # Odd number of extra channels: the extra one goes after the input.
    y = ZeroPadShortcut(3, 6, 1)(x[:, :3])
    assert y.shape == (2, 6, 4, 4)
    torch.testing.assert_close(y[:, 1:4], x[:, :3])
    assert (y[:, 0] == 0).all() and (y[:, 4:] == 0).all()
    with pytest.raises(ValueError, match='cannot reduce channels'):
        ZeroPadShortcut(32, 16, 2)


def test_out_indices():
    net = CifarResNet(depth=20, out_indices=(0, 1, 2)).eval()
    outs = net(torch.rand(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32),
                                              (2, 32, 16, 16),
                                              (2, 64, 8, 8)]
    net = CifarResNet(depth=20, out_indices=(-2, )).eval()
    (out, ) = net(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 32, 16, 16)
    assert CifarResNet(depth=20).feat_dim == 64


def test_kaiming_init_and_no_zero_init_residual():
    torch.manual_seed(0)
    net = CifarResNet(depth=32)
    net.init_weights()
    w = net.layer3[1].conv1.weight  # 64 x 64 x 3 x 3 = 36,864 draws
    fan_in = 64 * 9
    # Zero mean within 5 standard errors; He std sqrt(2 / fan_in).
    assert abs(w.mean().item()) < 5 * math.sqrt(2 / fan_in) / math.sqrt(
        w.numel())
    assert w.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
    w = net.conv1.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / 27), rel=0.35)
    for block in net.layer2:
        assert (block.bn2.weight == 1).all() and (block.bn2.bias == 0).all()
    net = CifarResNet(depth=32, zero_init_residual=True)
    net.init_weights()
    assert (net.layer2[0].bn2.weight == 0).all()


def test_frozen_stages():
    net = CifarResNet(depth=20, frozen_stages=2)
    net.train()
    for module in (net.conv1, net.bn1, net.layer1, net.layer2):
        assert all(not p.requires_grad for p in module.parameters())
        # Frozen BN layers keep their running statistics.
        assert all(not m.training for m in module.modules()
                   if isinstance(m, nn.BatchNorm2d))
    assert all(p.requires_grad for p in net.layer3.parameters())
    assert all(m.training for m in net.layer3.modules())


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'depth must be one of .*got 18'):
        CifarResNet(depth=18)
    with pytest.raises(ValueError, match="shortcut must be 'A'.*got 'C'"):
        CifarResNet(shortcut='C')
    with pytest.raises(ValueError, match=r'out_indices .*\[-3, 2\]'):
        CifarResNet(out_indices=(3, ))
    with pytest.raises(ValueError, match='num_stages must be 1, 2 or 3'):
        CifarResNet(num_stages=4, strides=(1, 2, 2, 2))
    with pytest.raises(ValueError, match='one stride per stage'):
        CifarResNet(strides=(1, 2))
    with pytest.raises(ValueError, match='frozen_stages must be in'):
        CifarResNet(frozen_stages=4)


def test_builds_from_config_as_classifier():
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    from mmpretrain.structures import DataSample
    model = MMPRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='mmghm.CifarResNet', depth=32),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=10,
                in_channels=64,
                loss=dict(type='CrossEntropyLoss'))))
    assert isinstance(model.backbone, CifarResNet)
    assert _num_params(model) == 464154
    x = torch.rand(3, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    losses = model(x, samples, mode='loss')
    assert torch.isfinite(losses['loss'])
    assert MODELS.get('CifarResNet') is CifarResNet
