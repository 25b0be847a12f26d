"""GHM-CWAP: gradient harmonized mechanism with category-wise adaptive
precision (Zhang et al., "Solving the long-tailed problem via intra- and
inter-category balance").

The paper leaves several choices open; ``docs/method.md`` of the project
fixes them and this module follows it section by section (quoted as
"method.md §k" below). In short, for a batch of logits ``z`` (B x C) and
labels ``y``:

1. ``S_c = sum_i v_{c,i}^alpha`` (effective sample size, Sec. 3.2), read from
   the reference density of the last completed epoch, clamped below at 1.
2. Asymmetric margins (Eq. 2): logit ``n`` of an example of class ``m`` gets
   ``M_{m,n} = gamma * log(min(1, S_n / S_m))``.
3. ``g = 1 - softmax(z + M)_y`` is counted into the per-class histogram of
   the running epoch (Algorithm 1: ``v_i += 1 / (N * d_i)``).
4. Intra-category weights (Eq. 1) from the running density, normalised to a
   batch mean of 1.
5. ``loss_k = W_k * CE(z_k + M_{y_k}, y_k)`` (Eq. 3).

At every epoch end (or every K iterations) :meth:`GHMCWAPLoss.update` sums
the running density over ranks, makes it the reference and, with AURA,
re-bins each class with widths proportional to ``1 / log(v_i)`` (Alg. 1).
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import dist
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

from mmghm.registry import MODELS
from .utils import check_non_negative, check_positive_int, check_reduction

__all__ = ['GHMCWAPLoss', 'margin_cross_entropy']

_FLOAT32_BUFFERS = ('edges', 'density', 'ref_density', '_log_size_ref')


class _MarginCrossEntropy(torch.autograd.Function):
    """Per-example ``CE(z + M, y)`` with a hand-written backward.

    ``M`` is a constant (no gradient flows through the statistics, method.md
    §6), so ``d loss / d z = softmax(z + M) - onehot(y)``. Writing this
    backward by hand saves the temporaries autograd would keep for the
    margin arithmetic, which matters at large C. Also returns
    ``g = 1 - p_y`` (method.md §1), detached.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, margin: Optional[Tensor],
                label: Tensor) -> Tuple[Tensor, Tensor]:
        adjusted = logits if margin is None else logits + margin
        lse = torch.logsumexp(adjusted, dim=1)
        target_logit = adjusted.gather(1, label.unsqueeze(1)).squeeze(1)
        log_p_target = target_logit - lse
        ctx.save_for_backward(adjusted, lse, label)
        g = -torch.expm1(log_p_target)  # 1 - p_y, accurate near p_y = 1
        # A row with +inf/NaN logits has no meaningful g: mark it NaN so
        # that it is never counted into the histograms.
        g = torch.where(torch.isfinite(lse), g, g.new_full((), math.nan))
        ctx.mark_non_differentiable(g)
        return -log_p_target, g

    @staticmethod
    def backward(ctx, grad_loss: Tensor, grad_g: Tensor):
        adjusted, lse, label = ctx.saved_tensors
        grad = torch.sub(adjusted, lse.unsqueeze(1)).exp_()
        grad.scatter_add_(
            1, label.unsqueeze(1),
            torch.full_like(lse, -1.0).unsqueeze(1))
        grad.mul_(grad_loss.unsqueeze(1))
        return grad, None, None


def margin_cross_entropy(logits: Tensor, label: Tensor,
                         margin: Optional[Tensor] = None
                         ) -> Tuple[Tensor, Tensor]:
    """Per-example cross-entropy of margin-adjusted logits (Eq. 3).

    Args:
        logits: (B, C) logits ``z``.
        label: (B,) int64 class indices in [0, C).
        margin: (B, C) constant margins ``M_{y_k, .}`` or None.

    Returns:
        tuple: per-example loss (B,) and gradient norm ``g = 1 - p_y`` (B,),
        the latter detached.
    """
    return _MarginCrossEntropy.apply(logits, margin, label)


@MODELS.register_module()
class GHMCWAPLoss(nn.Module):
    """GHM-CWAP loss (Eq. 1-3) with (A)URA histograms (Algorithm 1).

    Usable unchanged as the ``loss`` of MMPretrain's ``ClsHead``, the
    ``loss_cls`` of MMDetection's softmax bbox heads (background = index C,
    construct with ``num_classes=C + 1``) and the ``loss_decode`` of
    MMSegmentation's decode heads (``(N, C, H, W)`` logits, ``ignore_index``).

    All histogram state lives in float32 buffers (saved in checkpoints):

    - ``edges`` (C, N+1): unit-region boundaries, ``edges[:, 0] = 0``,
      ``edges[:, N] = 1``.
    - ``density`` (C, N): running gradient density since the last update.
    - ``ref_density`` (C, N): density of the last completed epoch.
    - ``num_updates``: number of :meth:`update` calls so far.

    Args:
        num_classes: Number of classes C (C + 1 for detection heads whose
            last logit is the background).
        num_bins: Unit regions per class, N (paper: 30).
        alpha: Effectiveness factor (paper: 0.9), in [0, 1].
        gamma: Margin strength (paper: 0.8), >= 0.
        intra: Intra-category balance, the weights W of Eq. 1.
        intra_weight: ``'tempered'`` (default, ``W = v^(alpha-1)``) or
            ``'paper'`` (``W = S_c / v^alpha / K_c``), see method.md §4.
        inter: Inter-category balance, the margins M of Eq. 2.
        adaptive: AURA re-binning at each update; False keeps uniform bins
            (URA, the ablation of Table 3).
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: Multiplier of the loss.
        ignore_index: Label to ignore (e.g. 255 in segmentation); ignored
            examples are neither counted nor weighted.
        loss_name: Name under which MMSegmentation logs the loss; must
            start with ``'loss_'``.
        use_sigmoid: Must be False. Accepted only so that sigmoid heads
            (RetinaNet, FCOS, ...) that pass ``use_sigmoid=True`` get a clear
            error: the paper defines GHM-CWAP for softmax classifiers only.
    """

    def __init__(self,
                 num_classes: int,
                 num_bins: int = 30,
                 alpha: float = 0.9,
                 gamma: float = 0.8,
                 intra: bool = True,
                 intra_weight: str = 'tempered',
                 inter: bool = True,
                 adaptive: bool = True,
                 reduction: str = 'mean',
                 loss_weight: float = 1.0,
                 ignore_index: Optional[int] = None,
                 loss_name: str = 'loss_ghm_cwap',
                 use_sigmoid: bool = False) -> None:
        super().__init__()
        if use_sigmoid:
            raise ValueError(
                'GHMCWAPLoss is a softmax loss (one gradient-norm histogram '
                'per class of a softmax classifier); it cannot be used with '
                'use_sigmoid=True heads such as RetinaNet, FCOS or YOLOX. '
                'Use it in softmax heads (two-stage bbox heads, '
                'classification and segmentation heads).')
        self.num_classes = check_positive_int('num_classes', num_classes, 2)
        self.num_bins = check_positive_int('num_bins', num_bins, 2)
        self.alpha = check_non_negative('alpha', alpha)
        if self.alpha > 1:
            raise ValueError(f'alpha must be in [0, 1], but got {alpha!r}.')
        self.gamma = check_non_negative('gamma', gamma)
        if intra_weight not in ('tempered', 'paper'):
            raise ValueError("intra_weight must be 'tempered' or 'paper', "
                             f'but got {intra_weight!r}.')
        for name, flag in (('intra', intra), ('inter', inter),
                           ('adaptive', adaptive)):
            if not isinstance(flag, bool):
                raise ValueError(f'{name} must be a bool, but got {flag!r}.')
        if not (isinstance(loss_name, str) and loss_name.startswith('loss_')):
            raise ValueError("loss_name must be a str starting with 'loss_' "
                             f'(MMSegmentation logs it), got {loss_name!r}.')
        if ignore_index is not None and not isinstance(ignore_index, int):
            raise ValueError(
                f'ignore_index must be an int or None, got {ignore_index!r}.')
        self.intra = intra
        self.intra_weight = intra_weight
        self.inter = inter
        self.adaptive = adaptive
        self.reduction = check_reduction(reduction)
        self.loss_weight = float(loss_weight)
        self.ignore_index = ignore_index
        self._loss_name = loss_name

        C, N = self.num_classes, self.num_bins
        uniform = torch.linspace(0, 1, N + 1, dtype=torch.float64)
        self.register_buffer('edges',
                             uniform.float().expand(C, N + 1).contiguous())
        self.register_buffer('density', torch.zeros(C, N))
        self.register_buffer('ref_density', torch.zeros(C, N))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))
        # log S_c from ``ref_density``: changes only at update(), so cached.
        self.register_buffer('_log_size_ref', torch.zeros(C),
                             persistent=False)
        self._has_ref = False

    @property
    def loss_name(self) -> str:
        """Name of the loss term (MMSegmentation's decode heads use it)."""
        return self._loss_name

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, num_bins={self.num_bins}, '
                f'alpha={self.alpha}, gamma={self.gamma}, intra={self.intra} '
                f'({self.intra_weight}), inter={self.inter}, '
                f'adaptive={self.adaptive}')

    # ------------------------------------------------------------------
    # statistics
    # ------------------------------------------------------------------
    def _effective_size(self, density: Tensor) -> Tensor:
        """``S_c = sum_i v_{c,i}^alpha``, empty bins adding nothing, >= 1."""
        powered = torch.where(density > 0, density.pow(self.alpha),
                              torch.zeros_like(density))
        return powered.sum(dim=1).clamp_(min=1.0)

    def log_effective_size(self) -> Tensor:
        """``log S_c`` (C,) as used for the margins (method.md §3 step 1).

        From ``ref_density`` once an update has happened; before that, from
        the running ``density`` as it is now.
        """
        if self._has_ref:
            return self._log_size_ref
        return self._effective_size(self.density).log_()

    def _refresh_cache(self) -> None:
        self._has_ref = bool(self.num_updates > 0)
        self._log_size_ref.copy_(
            self._effective_size(self.ref_density).log_())

    @torch.no_grad()
    def update(self) -> None:
        """One AURA step (Algorithm 1, method.md §7).

        1. Sum ``density`` over all ranks.
        2. For each class seen since the last update: ``ref_density <-
           density`` and, with AURA, new widths ``d_i ∝ 1 / log(max(v_i,
           e))`` normalised to 1 (URA keeps uniform widths).
        3. ``density <- 0``.

        Every rank must call it (the hook does), as it all-reduces.
        """
        dist.all_reduce(self.density, op='sum')
        seen = self.density.sum(dim=1) > 0
        self.ref_density.copy_(
            torch.where(seen.unsqueeze(1), self.density, self.ref_density))
        if self.adaptive:
            widths = self.density.clamp(min=math.e).log_().reciprocal_()
            widths = widths / widths.sum(dim=1, keepdim=True)
            new_edges = torch.zeros_like(self.edges)
            new_edges[:, 1:] = widths.double().cumsum(dim=1).float()
            new_edges[:, -1] = 1.0
            self.edges.copy_(
                torch.where(seen.unsqueeze(1), new_edges, self.edges))
        self.density.zero_()
        self.num_updates += 1
        self._refresh_cache()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._refresh_cache()

    def _apply(self, fn, *args, **kwargs):
        # Keep the histogram buffers in float32 under .half()/.to(dtype):
        # counts in float16 would lose precision and overflow past 65504.
        before = {n: self._buffers[n] for n in _FLOAT32_BUFFERS}
        super()._apply(fn, *args, **kwargs)
        for name, old in before.items():
            new = self._buffers[name]
            if new.dtype != torch.float32:
                self._buffers[name] = old.to(new.device, torch.float32)
        return self

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def _flatten(self, cls_score: Tensor, label: Tensor,
                 weight: Optional[Tensor]
                 ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Bring classification, detection or (N, C, ...) dense inputs to
        (M, C) logits and (M,) labels/weights; check them."""
        C = self.num_classes
        if not torch.is_tensor(cls_score) or cls_score.dim() < 2:
            raise ValueError('cls_score must be a (N, C) or (N, C, ...) '
                             f'tensor, got {type(cls_score).__name__} of '
                             f'shape {getattr(cls_score, "shape", None)}.')
        if cls_score.shape[1] != C:
            raise ValueError(
                f'cls_score has {cls_score.shape[1]} classes (dim 1) but '
                f'GHMCWAPLoss was built with num_classes={C}.')
        if label.dtype.is_floating_point or label.dtype == torch.bool:
            if label.shape == cls_score.shape:
                raise ValueError(
                    'GHMCWAPLoss needs hard integer labels, got soft targets '
                    f'of shape {tuple(label.shape)} (Mixup/CutMix batch '
                    'augments make them). Its histograms count each example '
                    'under one class; remove train_cfg.augments or use '
                    'another loss.')
            raise ValueError(
                f'label must be an integer tensor, got {label.dtype}.')
        expected = (cls_score.shape[0], ) + tuple(cls_score.shape[2:])
        if tuple(label.shape) != expected:
            raise ValueError(
                f'label has shape {tuple(label.shape)}; for cls_score of '
                f'shape {tuple(cls_score.shape)} it must be {expected}.')
        if cls_score.dim() > 2:
            # (N, C, d1, ...) -> (N * d1 * ..., C)
            logits = cls_score.movedim(1, -1).reshape(-1, C)
        else:
            logits = cls_score
        label = label.reshape(-1)
        if weight is not None:
            if weight.numel() != label.numel():
                raise ValueError(
                    f'weight has {weight.numel()} elements but there are '
                    f'{label.numel()} examples; pass one weight per example.')
            weight = weight.reshape(-1).to(logits.dtype)
        return logits, label, weight

    def _check_labels(self, label: Tensor, ignore_index: Optional[int]):
        bad = (label < 0) | (label >= self.num_classes)
        if ignore_index is not None:
            bad &= label != ignore_index
        if bad.any():  # one host sync; an error here changes no state
            values = torch.unique(label[bad])[:10].tolist()
            raise ValueError(
                f'labels {values} are outside [0, {self.num_classes}) and '
                f'are not ignore_index ({ignore_index}).')

    def forward(self,
                cls_score: Tensor,
                label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        """Compute the loss (and count the batch into the histograms).

        Args:
            cls_score: Logits, (N, C) or (N, C, d1, ...).
            label: Integer labels, (N,) or (N, d1, ...).
            weight: Optional per-example weights; examples of weight 0 are
                not counted into the histograms.
            avg_factor: Divisor of the summed loss for 'mean' reduction
                (default: the number of non-ignored examples).
            reduction_override: 'none', 'mean' or 'sum'.
            ignore_index: Overrides the constructor's ``ignore_index``.

        Returns:
            Tensor: the loss (scalar unless reduction is 'none').
        """
        reduction = check_reduction(reduction_override or self.reduction)
        if ignore_index is None:
            ignore_index = self.ignore_index
        logits, label, weight = self._flatten(cls_score, label, weight)
        self._check_labels(label, ignore_index)
        label = label.long()
        counting = self.training and torch.is_grad_enabled()

        # Statistics in float32 whatever the input dtype (method.md §6).
        dtype = torch.float64 if logits.dtype == torch.float64 \
            else torch.float32
        with torch.autocast(logits.device.type, enabled=False):
            z = logits.to(dtype)
            if ignore_index is not None:
                valid = label != ignore_index
                safe_label = torch.where(valid, label, 0)
            else:
                valid = None
                safe_label = label

            margin = None
            if self.inter:  # Eq. 2, B x C work from the vector log S
                log_s = self.log_effective_size().to(dtype)
                margin = (log_s.unsqueeze(0) -
                          log_s[safe_label].unsqueeze(1)).clamp_(max=0)
                margin.mul_(self.gamma)
            ce, g = margin_cross_entropy(z, safe_label, margin)

            weights = self._intra_weights(safe_label, g, valid, weight,
                                          counting)
            loss = ce if weights is None else ce * weights.to(dtype)
            if valid is not None:
                loss = torch.where(valid, loss, loss.new_zeros(()))
                if avg_factor is None and reduction == 'mean':
                    avg_factor = valid.sum().clamp_(min=1).to(dtype)
            elif avg_factor is None and reduction == 'mean':
                avg_factor = max(loss.numel(), 1)
            loss = weight_reduce_loss(
                loss, weight=weight, reduction=reduction,
                avg_factor=avg_factor)
        if reduction == 'none' and cls_score.dim() > 2:
            loss = loss.view((cls_score.shape[0], ) +
                             tuple(cls_score.shape[2:]))
        return self.loss_weight * loss

    @torch.no_grad()
    def _intra_weights(self, label: Tensor, g: Tensor,
                       valid: Optional[Tensor], weight: Optional[Tensor],
                       counting: bool) -> Optional[Tensor]:
        """Bin the examples, count them (training only) and return the
        intra-category weights W (Eq. 1, method.md §2-4), or None when
        neither weights nor counting are needed."""
        if not self.intra and not counting:
            return None
        N = self.num_bins
        edges = self.edges
        g = g.to(edges.dtype)
        member = torch.isfinite(g)  # NaN/inf logits never enter the state
        if valid is not None:
            member &= valid
        # A g equal to an edge belongs to the bin above it; g = 1 falls in
        # the last bin (the top edge is left out of the search).
        row_edges = edges[label]
        bins = torch.searchsorted(
            row_edges[:, 1:N].contiguous(),
            g.nan_to_num(0.0).clamp(0, 1).unsqueeze(1),
            right=True).squeeze(1)
        lower = row_edges.gather(1, bins.unsqueeze(1)).squeeze(1)
        upper = row_edges.gather(1, (bins + 1).unsqueeze(1)).squeeze(1)
        unit = (upper - lower).mul_(N).reciprocal_()  # 1 / (N * d_i)
        flat = label * N + bins
        density = self.density.view(-1)
        if counting:
            counted = member if weight is None else member & (weight != 0)
            density.index_add_(0, flat, unit * counted)
        if not self.intra:
            return None
        own = density[flat]
        # An example that was not counted (evaluation) sees its empty bin
        # as holding one example (method.md §4).
        v = torch.maximum(own, unit)
        if self.intra_weight == 'tempered':
            w = v.pow(self.alpha - 1.0)
        else:
            rows = self.density[label]
            occupied = rows > 0
            size = torch.where(occupied, rows.pow(self.alpha),
                               torch.zeros_like(rows)).sum(dim=1)
            bins_used = occupied.sum(dim=1)
            was_empty = own <= 0
            size = size + torch.where(was_empty, v.pow(self.alpha),
                                      torch.zeros_like(v))
            bins_used = (bins_used + was_empty.long()).clamp_(min=1)
            w = size / v.pow(self.alpha) / bins_used
        w = torch.where(member, w, torch.zeros_like(w))
        # GHM-C's normalisation: mean weight 1 over the counted examples.
        total = w.sum()
        n_member = member.sum()
        scale = torch.where(total > 0, n_member / total.clamp(min=1e-12),
                            torch.zeros_like(total))
        return w * scale
