"""LWS and tau-norm heads against their formulas (Kang et al., ICLR 2020),
and tools/analysis/select_tau.py's split and curve."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpretrain.models.heads import LinearClsHead

from mmghm.models.heads import LWSLinearClsHead, TauNormLinearClsHead
from mmghm.registry import MODELS

ROOT = Path(__file__).resolve().parents[3]
C, D = 12, 16


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'select_tau', ROOT / 'tools/analysis/select_tau.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plain():
    torch.manual_seed(0)
    plain = LinearClsHead(num_classes=C, in_channels=D)
    with torch.no_grad():  # class norms from 0.2 to 3
        plain.fc.weight.mul_(torch.linspace(0.2, 3, C)[:, None] /
                             plain.fc.weight.norm(dim=1, keepdim=True))
        plain.fc.bias.copy_(torch.linspace(-1, 1, C))
    return plain


def reference_tau_logits(x, weight, bias, tau):
    """z_c = sum_d x_d w_cd / ||w_c||^tau (+ b_c), with Python loops."""
    out = []
    for row in x.tolist():
        zs = []
        for c, w in enumerate(weight.tolist()):
            norm = math.sqrt(sum(v * v for v in w))
            z = sum(a * v for a, v in zip(row, w)) / norm**tau
            zs.append(z + (float(bias[c]) if bias is not None else 0.0))
        out.append(zs)
    return torch.tensor(out)


@pytest.mark.parametrize('keep_bias', [False, True])
@pytest.mark.parametrize('tau', [0.0, 0.5, 1.0, 1.7])
def test_tau_norm_predictions_follow_the_formula(tau, keep_bias):
    plain = _plain()
    head = MODELS.build(dict(type='mmghm.TauNormLinearClsHead',
                             num_classes=C, in_channels=D, tau=tau,
                             keep_bias=keep_bias))
    head.load_state_dict(plain.state_dict())  # the same keys
    x = torch.randn(20, D) * 2
    expected = reference_tau_logits(
        x, plain.fc.weight, plain.fc.bias if keep_bias else None, tau)
    torch.testing.assert_close(head.normalized_logits((x, )), expected,
                               rtol=1e-5, atol=1e-5)
    preds = head.predict((x, ))
    assert [int(p.pred_label) for p in preds] == expected.argmax(1).tolist()
    torch.testing.assert_close(torch.stack([p.pred_score for p in preds]),
                               expected.softmax(1), rtol=1e-5, atol=1e-6)
    # training sees the plain logits
    torch.testing.assert_close(head((x, )), plain((x, )))


def test_tau_one_gives_unit_norm_classes_and_tau_changes_predictions():
    plain = _plain()
    head = TauNormLinearClsHead(C, D, tau=1.0)
    head.load_state_dict(plain.state_dict())
    from mmghm.models.heads.decoupling_heads import tau_normalized
    torch.testing.assert_close(
        tau_normalized(plain.fc.weight, 1.0).norm(dim=1), torch.ones(C))
    x = torch.randn(200, D)
    plain_pred = (x @ plain.fc.weight.T).argmax(1)
    assert (head.normalized_logits((x, )).argmax(1) != plain_pred).any()
    with pytest.raises(ValueError, match='tau'):
        TauNormLinearClsHead(C, D, tau=-0.5)


def test_lws_logits_are_scaled_frozen_linear_logits():
    plain = _plain()
    head = MODELS.build(dict(type='mmghm.LWSLinearClsHead', num_classes=C,
                             in_channels=D))
    head.load_state_dict(plain.state_dict())  # stage-1 keys: scales at 1
    assert torch.equal(head.scales.detach(), torch.ones(C))
    assert [n for n, p in head.named_parameters() if p.requires_grad] == \
        ['scales']
    scales = torch.linspace(0.5, 2.0, C)
    with torch.no_grad():
        head.scales.copy_(scales)
    x = torch.randn(8, D)
    expected = torch.tensor(
        [[s * (sum(a * v for a, v in zip(row, w)) + b)
          for s, w, b in zip(scales.tolist(), plain.fc.weight.tolist(),
                             plain.fc.bias.tolist())] for row in x.tolist()])
    torch.testing.assert_close(head((x, )), expected, rtol=1e-5, atol=1e-5)
    # a gradient step moves the scales only
    head.loss((x, ), [_sample(i % C) for i in range(8)])['loss'].backward()
    assert head.scales.grad.abs().sum() > 0
    assert head.fc.weight.grad is None and head.fc.bias.grad is None
    with pytest.raises(ValueError, match='init_scale'):
        LWSLinearClsHead(C, D, init_scale=0)


def _sample(label):
    from mmpretrain.structures import DataSample
    return DataSample().set_gt_label(label)


def test_held_out_split_is_the_left_out_images_balanced():
    tool = _load_tool()
    labels = np.repeat(np.arange(10), 50)
    kept = np.concatenate([np.flatnonzero(labels == c)[:50 - 4 * c]
                           for c in range(10)])  # class 0 keeps all
    split = tool.held_out_indices(kept, labels, 10, per_class=20, seed=0)
    idx = split['indices']
    assert not set(idx.tolist()) & set(kept.tolist())
    assert split['excluded'] == [0]
    assert split['per_class'] == [0, 4, 8, 12, 16, 20, 20, 20, 20, 20]
    assert np.bincount(labels[idx], minlength=10).tolist() == \
        split['per_class']
    again = tool.held_out_indices(kept, labels, 10, per_class=20, seed=0)
    assert np.array_equal(again['indices'], idx)


def test_tau_curve_is_balanced_accuracy_of_the_normalised_classifier():
    tool = _load_tool()
    plain = _plain()
    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(300, D, generator=gen)
    labels = torch.randint(0, C, (300, ), generator=gen)
    taus = [0.0, 0.5, 1.0, 2.0]
    classes = list(range(1, C))  # class 0 left out, as excluded classes
    curve = tool.tau_curve(feats, labels, plain.fc.weight.detach(), None,
                           taus, classes)
    for tau, value in zip(taus, curve):
        pred = reference_tau_logits(feats, plain.fc.weight, None,
                                    tau).argmax(1)
        accs = [float((pred[labels == c] == c).double().mean())
                for c in classes]
        assert value == pytest.approx(sum(accs) / len(accs), abs=1e-12)


def test_select_tau_on_digits_writes_the_choice_and_its_split(tmp_path):
    """End to end on the digits demo: the split is the left-out training
    images (none of the kept ones, none of the test set)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    tool = _load_tool()
    config = ROOT / 'configs/softmax/softmax_resnet20_demo_digits-lt.py'
    cfg = Config.fromfile(str(config))
    cfg.model.head.type = 'mmghm.TauNormLinearClsHead'
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    torch.save(dict(state_dict=model.state_dict(), meta={}),
               tmp_path / 'ckpt.pth')
    out = tmp_path / 'tau.json'
    cfg.dump(str(tmp_path / 'cfg.py'))
    assert tool.main([str(tmp_path / 'cfg.py'), str(tmp_path / 'ckpt.pth'),
                      '--out', str(out), '--per-class', '2',
                      '--taus', '0', '1']) == 0
    import json
    result = json.loads(out.read_text())
    assert result['tau'] in (0.0, 1.0) and result['taus'] == [0.0, 1.0]
    assert result['val_balanced_accuracy'] == max(result['curve'])
    split = result['val_split']
    # digits-LT: class 0 keeps 140 of its images, the others fewer
    assert sum(split['per_class']) == split['num_images'] > 0
    assert all(n <= 2 for n in split['per_class'])
