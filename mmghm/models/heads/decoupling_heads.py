"""Classifiers of the decoupled second stage (Kang et al., ICLR 2020).

* :class:`LWSLinearClsHead`: learnable weight scaling (LWS). The linear
  classifier of stage 1 is kept fixed and only one scale per class is
  learned: ``z_c = s_c * (w_c . x + b_c)``.
* :class:`TauNormLinearClsHead`: tau-normalisation, post hoc. Training is
  :class:`~mmpretrain.models.heads.LinearClsHead`'s; predictions use the
  class weights divided by their norm to the power tau, ``z_c = (w_c /
  ||w_c||^tau) . x`` (without the bias, as Kang et al.'s code computes it;
  ``keep_bias=True`` adds it back).

Both keep ``LinearClsHead``'s state-dict keys (``fc.weight``, ``fc.bias``),
so a stage-1 checkpoint of a plain linear head loads into them with
``load_from`` (LWS then starts its ``scales`` at ``init_scale``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmpretrain.models.heads import LinearClsHead
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_bool, check_number

__all__ = ['LWSLinearClsHead', 'TauNormLinearClsHead', 'tau_normalized']


def tau_normalized(weight: Tensor, tau: float, eps: float = 1e-12) -> Tensor:
    """``w_c / ||w_c||_2^tau`` for each row ``w_c`` of ``weight`` (C, D)."""
    norms = weight.norm(p=2, dim=1, keepdim=True).clamp_min(eps)
    return weight / norms.pow(tau)


@MODELS.register_module()
class LWSLinearClsHead(LinearClsHead):
    """Learnable weight scaling: a frozen linear classifier times a learned
    per-class scale, ``z_c = s_c * (w_c . x + b_c)`` (Kang et al., LWS).

    ``fc`` does not require gradients (set at construction, so that
    distributed training registers the scales only); ``scales`` (C,) start
    at ``init_scale``. Train it with a class-balanced sampler on a frozen
    representation (:class:`mmghm.engine.hooks.FreezeRepresentationHook`)
    from a stage-1 checkpoint (``load_from``).

    Args:
        num_classes: Number of classes.
        in_channels: Number of input feature channels.
        init_scale: Initial value of every scale, > 0.
        **kwargs: :class:`~mmpretrain.models.heads.LinearClsHead`'s.
    """

    def __init__(self, num_classes: int, in_channels: int,
                 init_scale: float = 1.0, **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         **kwargs)
        self.init_scale = check_number('init_scale', init_scale, low=0.0,
                                       low_open=True)
        self.scales = nn.Parameter(torch.full((num_classes, ),
                                              self.init_scale))
        self.fc.requires_grad_(False)

    def init_weights(self) -> None:
        super().init_weights()
        with torch.no_grad():
            self.scales.fill_(self.init_scale)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        return self.fc(self.pre_logits(feats)) * self.scales

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A stage-1 checkpoint of a plain linear head has no scales: they
        # start at init_scale (not a missing key: this is LWS's start).
        key = prefix + 'scales'
        if key not in state_dict and prefix + 'fc.weight' in state_dict:
            state_dict[key] = torch.full_like(self.scales, self.init_scale)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


@MODELS.register_module()
class TauNormLinearClsHead(LinearClsHead):
    """Linear head whose predictions use tau-normalised class weights
    (Kang et al.): ``z_c = (w_c / ||w_c||^tau) . x`` (+ ``b_c`` with
    ``keep_bias``). The loss, its gradients and the state dict are
    :class:`~mmpretrain.models.heads.LinearClsHead`'s, so a checkpoint of a
    plain linear head is tested with this one as it is. tau = 0 is the
    plain classifier (without the bias unless ``keep_bias``), tau = 1 a
    cosine-like classifier with unit-norm class weights. Choose tau on a
    validation split with ``tools/analysis/select_tau.py``.

    Args:
        num_classes: Number of classes.
        in_channels: Number of input feature channels.
        tau: The exponent, >= 0.
        keep_bias: Add ``fc.bias`` to the normalised logits (Kang et al.
            drop it).
        **kwargs: :class:`~mmpretrain.models.heads.LinearClsHead`'s.
    """

    def __init__(self, num_classes: int, in_channels: int, tau: float = 1.0,
                 keep_bias: bool = False, **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         **kwargs)
        self.tau = check_number('tau', tau, low=0.0)
        self.keep_bias = check_bool('keep_bias', keep_bias)

    def normalized_logits(self, feats: Tuple[Tensor],
                          tau: Optional[float] = None) -> Tensor:
        """Logits of the tau-normalised classifier, (N, C)."""
        tau = self.tau if tau is None else tau
        x = self.pre_logits(feats)
        bias = self.fc.bias if self.keep_bias else None
        return nn.functional.linear(x, tau_normalized(self.fc.weight, tau),
                                    bias)

    def predict(self, feats: Tuple[Tensor],
                data_samples: Optional[Sequence] = None) -> List:
        """Predictions from the tau-normalised logits."""
        return self._get_predictions(self.normalized_logits(feats),
                                     data_samples)
