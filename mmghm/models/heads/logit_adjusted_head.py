"""A linear classifier with post-hoc logit adjustment at prediction."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.models.heads import LinearClsHead
from torch import Tensor

from mmghm.registry import MODELS
from mmghm.utils.checks import check_number
from mmghm.utils.class_counts import ClassCountsMixin, CountsLike

__all__ = ['LogitAdjustedLinearClsHead']


@MODELS.register_module()
class LogitAdjustedLinearClsHead(ClassCountsMixin, LinearClsHead):
    """MMPretrain's linear head whose *predictions* are logit-adjusted.

    Post-hoc logit adjustment (Menon et al., "Long-tail learning via logit
    adjustment", ICLR 2021): train with any loss on the plain logits, then
    predict ``argmax_c z_c - tau * log n_c`` (``n_c``: training images of
    class c). ``tau = 1`` is the authors' default. Only ``predict`` (and so
    validation, test and inference) sees the shift; the loss and its
    gradients are :class:`~mmpretrain.models.heads.LinearClsHead`'s.

    The state dict is ``LinearClsHead``'s plus the counts, so a checkpoint
    trained with the plain head (e.g. cross-entropy) can be tested with
    this one (``tools/test.py``; MMEngine reports the counts as missing
    keys, and :class:`~mmghm.engine.ClassCountsHook` sets them from the
    checkpoint's meta or the training set).

    Args:
        num_classes: Number of classes.
        in_channels: Number of input feature channels.
        tau: Strength of the adjustment, >= 0 (0: the plain head).
        class_counts: Training images per class; usually set by
            ``ClassCountsHook`` instead.
        **kwargs: :class:`~mmpretrain.models.heads.LinearClsHead`'s
            (``loss``, ``topk``, ``cal_acc``, ``init_cfg``).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 tau: float = 1.0,
                 class_counts: Optional[CountsLike] = None,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         **kwargs)
        self.tau = check_number('tau', tau, low=0.0)
        self.register_buffer('log_counts', torch.zeros(num_classes),
                             persistent=False)
        self._init_class_counts(num_classes, class_counts)

    def _on_class_counts(self, counts: Tensor) -> None:
        self.log_counts.copy_(counts.clamp_min(1).log().to(self.log_counts))

    def adjusted_logits(self, feats: Tuple[Tensor]) -> Tensor:
        """``z - tau * log n``, shape (N, C)."""
        self._require_counts()
        cls_score = self(feats)
        return cls_score - self.tau * self.log_counts.to(cls_score)

    def predict(self, feats: Tuple[Tensor],
                data_samples: Optional[Sequence] = None) -> List:
        """Predictions from the adjusted logits (scores: their softmax)."""
        return self._get_predictions(self.adjusted_logits(feats),
                                     data_samples)
