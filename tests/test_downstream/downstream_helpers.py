"""Helpers for the MMDetection / MMSegmentation tests (pytest puts this
folder on sys.path: the test modules import it by name).

Those tests need the second environment (full mmcv with compiled ops,
mmdet, mmseg), built by ``tools/install_downstream.sh``; each of their
modules skips with a reason where it is absent (``require_downstream``).
"""
from pathlib import Path
from typing import Dict, List

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
DOWNSTREAM_CONFIGS = ROOT / 'configs' / 'downstream'


def require_downstream(package: str):
    """Import ``package`` (mmdet or mmseg) and full mmcv's compiled ops, or
    skip the calling test module with the reason."""
    hint = ('; build the environment with '
            'tools/install_downstream.sh (see README)')
    try:
        from mmcv.ops import RoIAlign, nms  # noqa: F401
    except Exception as e:  # mmcv-lite, or mmcv built without ops
        pytest.skip(f'full mmcv with compiled ops is not available ({e})'
                    f'{hint}', allow_module_level=True)
    return pytest.importorskip(package, reason=f'{package} is not '
                               f'installed{hint}')


class LossSpy:
    """Records what the host library passes to a GHMCWAPLoss.

    For each training call it stores the labels and the example weights;
    just before each ``update()`` it stores ``density`` and ``edges``, which
    lets a test recover exactly how many examples of each class entered the
    histograms (``density * N * bin_width`` is a count) and compare with
    the labels the host passed.
    """

    def __init__(self, loss):
        self.loss = loss
        self.calls: List[Dict[str, torch.Tensor]] = []
        self.snapshots: List[Dict[str, torch.Tensor]] = []
        self._calls_at_update: List[int] = []
        loss.register_forward_pre_hook(self._pre_hook, with_kwargs=True)
        original = loss.update

        def update():
            self.snapshots.append(
                dict(density=loss.density.clone(), edges=loss.edges.clone()))
            self._calls_at_update.append(len(self.calls))
            original()

        loss.update = update

    def _pre_hook(self, module, args, kwargs):
        if not (module.training and torch.is_grad_enabled()):
            return
        label = args[1] if len(args) > 1 else kwargs['label']
        weight = args[2] if len(args) > 2 else kwargs.get('weight')
        self.calls.append(
            dict(label=label.detach().clone(),
                 weight=None if weight is None else weight.detach().clone(),
                 ignore_index=kwargs.get('ignore_index')))

    def counted_per_interval(self) -> List[torch.Tensor]:
        """(C, N) example counts each update found in the histograms."""
        N = self.loss.num_bins
        return [
            snap['density'].double() * N *
            snap['edges'].double().diff(dim=1) for snap in self.snapshots
        ]

    def expected_per_interval(self) -> List[torch.Tensor]:
        """(C,) per-class numbers of examples the host passed with a
        non-zero weight and a label other than ``ignore_index``."""
        C = self.loss.num_classes
        out, start = [], 0
        for stop in self._calls_at_update:
            total = torch.zeros(C, dtype=torch.float64)
            for call in self.calls[start:stop]:
                label = call['label'].reshape(-1)
                keep = torch.ones_like(label, dtype=torch.bool)
                ignore = call['ignore_index']
                if ignore is None:
                    ignore = self.loss.ignore_index
                if ignore is not None:
                    keep &= label != ignore
                if call['weight'] is not None:
                    keep &= call['weight'].reshape(-1) != 0
                total += torch.bincount(
                    label[keep], minlength=C).double()[:C]
            out.append(total)
            start = stop
        return out


def assert_histograms_sane(loss):
    """Finite state, pinned and increasing edges, densities >= 0."""
    for name in ('edges', 'density', 'ref_density'):
        assert torch.isfinite(getattr(loss, name)).all(), name
    assert (loss.density >= 0).all() and (loss.ref_density >= 0).all()
    edges = loss.edges
    assert torch.equal(edges[:, 0], torch.zeros_like(edges[:, 0]))
    assert torch.equal(edges[:, -1], torch.ones_like(edges[:, -1]))
    assert (edges.diff(dim=1) > 0).all()
