"""The normed linear classifier of LDAM-DRW (cosine logits)."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_int

__all__ = ['NormedLinearClsHead']


@MODELS.register_module()
class NormedLinearClsHead(ClsHead):
    """Linear head whose logits are cosine similarities.

    ``z_c = scale * <x / |x|, w_c / |w_c|>`` for features ``x`` and class
    weights ``w_c``: the "NormedLinear" classifier of Cao et al. (LDAM-DRW,
    NeurIPS 2019), used with :class:`mmghm.models.losses.LDAMLoss`, which
    multiplies the logits by its own ``s = 30``; keep ``scale = 1`` then.
    With other losses (e.g. cross-entropy) set ``scale`` to about 16-30, as
    cosine logits in [-1, 1] are too flat for a softmax.

    The weight (in_channels x num_classes) is initialised as in the authors'
    code: uniform in [-1, 1], each class column rescaled to unit norm.

    Args:
        num_classes: Number of classes.
        in_channels: Number of input feature channels.
        scale: Multiplier of the cosine logits, > 0.
        eps: Guard of the L2 normalisation.
        loss: Config of the loss, typically ``dict(type='mmghm.LDAMLoss',
            num_classes=...)``; the default (scoped, so it builds under any
            default scope) is MMPretrain's cross-entropy.
        init_cfg: MMEngine init config; the weight initialises itself.
        **kwargs: ``topk``, ``cal_acc`` of
            :class:`mmpretrain.models.heads.ClsHead`.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 scale: float = 1.0,
                 eps: float = 1e-12,
                 loss: dict = dict(
                     type='mmpretrain.CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(loss=loss, init_cfg=init_cfg, **kwargs)
        num_classes = check_int('num_classes', num_classes, 1)
        in_channels = check_int('in_channels', in_channels, 1)
        if not (isinstance(scale, (int, float)) and scale > 0):
            raise ValueError(f'scale must be a number > 0, got {scale!r}.')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.scale = float(scale)
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(in_channels, num_classes))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform(-1, 1) columns rescaled to unit L2 norm."""
        with torch.no_grad():
            self.weight.uniform_(-1, 1)
            self.weight.div_(self.weight.norm(dim=0, keepdim=True)
                             .clamp(min=self.eps))

    def pre_logits(self, feats: Tuple[Tensor]) -> Tensor:
        """The last stage's features (N, in_channels)."""
        return feats[-1]

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Cosine logits (N, num_classes), times ``scale``."""
        x = self.pre_logits(feats)
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'NormedLinearClsHead expects (N, {self.in_channels}) '
                f'features (add a GlobalAveragePooling neck), got shape '
                f'{tuple(x.shape)}.')
        cos = F.normalize(x, dim=1, eps=self.eps) @ F.normalize(
            self.weight, dim=0, eps=self.eps)
        return cos * self.scale if self.scale != 1.0 else cos
