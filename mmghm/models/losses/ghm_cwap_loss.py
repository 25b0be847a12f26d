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
from contextlib import nullcontext
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import dist
from mmpretrain.models.losses.utils import weight_reduce_loss
from torch import Tensor

from mmghm.registry import MODELS
from .utils import (check_cls_inputs, check_non_negative, check_positive_int,
                    check_reduction)

__all__ = ['GHMCWAPLoss', 'margin_cross_entropy']



class _GHMCWAPFunction(torch.autograd.Function):
    """Per-example ``W * CE(z + M, y)`` with a hand-written backward.

    W and M are constants for autograd (method.md §6), so
    ``d loss / d z = W * (softmax(z + M) - onehot(y))``. Writing this by hand
    keeps one (B, C) tensor for the backward instead of the temporaries of
    the margin arithmetic, and one autograd node instead of a dozen.

    The margins enter as a row shift: ``M_{m,n} = min(0, a_n - a_m)`` with
    ``a = gamma * log S``, and since a softmax is unchanged by a constant
    added to a row, ``z + M`` may be replaced by ``z + min(a_n, a_m)``,
    which costs one (B, C) pass less.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, label: Tensor,
                shift: Optional[Tensor], weigh) -> Tensor:
        if shift is None:
            adjusted = logits
        else:
            # shift: (C,), or (2, C) = (a as the logit's class, a as the
            # example's class), which differ only with a background class.
            col, row = (shift, shift) if shift.dim() == 1 else shift.unbind()
            adjusted = torch.minimum(col.unsqueeze(0), row[label].unsqueeze(1))
            adjusted += logits
        log_prob = torch.log_softmax(adjusted, dim=1)
        log_p_target = log_prob.gather(1, label.unsqueeze(1)).squeeze(1)
        # g = 1 - p_y (method.md §1), accurate near p_y = 1; a row with
        # +inf/NaN logits gives NaN, which is never counted.
        g = torch.expm1(log_p_target).neg_()
        weight = weigh(g)
        loss = log_p_target.neg()
        if weight is not None:
            loss = loss.mul_(weight)
        ctx.save_for_backward(log_prob, label, weight)
        return loss

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        log_prob, label, weight = ctx.saved_tensors
        coef = grad_loss if weight is None else grad_loss * weight
        grad = log_prob.exp()
        grad.scatter_add_(1, label.unsqueeze(1),
                          torch.full_like(coef, -1.0).unsqueeze(1))
        grad.mul_(coef.unsqueeze(1))
        return grad, None, None, None


def margin_cross_entropy(logits: Tensor,
                         label: Tensor,
                         shift: Optional[Tensor] = None,
                         weight: Optional[Tensor] = None) -> Tensor:
    """Per-example ``W * CE(z + M, y)`` of Eq. 3.

    Args:
        logits: (B, C) logits ``z``.
        label: (B,) int64 class indices in [0, C).
        shift: (C,) ``a = gamma * log S`` (margins ``min(0, a_n - a_y)``),
            (2, C) separate ``a`` for the logits' and the examples' classes
            (see ``GHMCWAPLoss._exclude_background``), or None for no
            margins.
        weight: (B,) constant weights W, or None.

    Returns:
        Tensor: (B,) per-example loss.
    """
    return _GHMCWAPFunction.apply(logits, label, shift, lambda g: weight)


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
        background_index: Label of a background class to leave out of the
            margins (Eq. 2), e.g. ``-1`` (= ``num_classes - 1``) in
            MMDetection's bbox heads. Its examples get no margins and its
            logit never gets one, so background examples keep suppressing
            every foreground logit (as in EQL and Seesaw); it is still
            counted into its own histogram and weighted (Eq. 1) like any
            class. None (default): no background, every class is balanced
            against every other.
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
                 use_sigmoid: bool = False,
                 background_index: Optional[int] = None) -> None:
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
        if background_index is not None:
            if isinstance(background_index, bool) or not isinstance(
                    background_index, int) or not (
                        -self.num_classes <= background_index <
                        self.num_classes):
                raise ValueError(
                    'background_index must be None or an int in '
                    f'[-{self.num_classes}, {self.num_classes}) (-1: the '
                    f'last logit), but got {background_index!r}.')
            background_index %= self.num_classes
        self.background_index = background_index

        C, N = self.num_classes, self.num_bins
        uniform = torch.linspace(0, 1, N + 1, dtype=torch.float64)
        self.register_buffer('edges',
                             uniform.float().expand(C, N + 1).contiguous())
        self.register_buffer('density', torch.zeros(C, N))
        self.register_buffer('ref_density', torch.zeros(C, N))
        self.register_buffer('num_updates', torch.zeros((), dtype=torch.long))
        # Tables derived from the state that change only at update(), so
        # cached (non-persistent; rebuilt on load): the margin shift
        # a = gamma * log S from ``ref_density``, 1 / (N * d) per bin, and
        # all inner edges in one sorted float64 vector (class c offset by 2c)
        # so that one searchsorted finds every example's bin.
        self.register_buffer('_shift_ref', torch.zeros(C), persistent=False)
        self.register_buffer('_unit', torch.ones(C, N), persistent=False)
        self.register_buffer(
            '_flat_edges', torch.zeros(C * (N - 1), dtype=torch.float64),
            persistent=False)
        self._has_ref = False
        self._refresh_cache()

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
        density = self.ref_density if self._has_ref else self.density
        return self._effective_size(density).log_()

    def _margin_shift(self) -> Tensor:
        """``a = gamma * log S`` (C,): the margins are min(0, a_n - a_m)."""
        if self._has_ref:
            return self._shift_ref  # cached at update() / load
        return self.log_effective_size().mul_(self.gamma)

    def _exclude_background(self, shift: Tensor) -> Tensor:
        """(2, C) column/row shifts that leave the background out of the
        margins: as a logit's class its ``a`` is +inf (``min(inf, a_m) =
        a_m``, the row's own shift: no margin on the background logit); as an
        example's class it is ``min(a)`` (``min(a_n, min(a))`` is the same for
        every n: no margins for background examples)."""
        bg = self.background_index
        col = shift.clone()
        col[bg] = math.inf
        row = shift.clone()
        row[bg] = shift.min()
        return torch.stack([col, row])

    @torch.no_grad()
    def _refresh_cache(self) -> None:
        C, N = self.num_classes, self.num_bins
        self._has_ref = bool(self.num_updates > 0)
        self._shift_ref.copy_(
            self._effective_size(self.ref_density).log_().mul_(self.gamma))
        self._unit.copy_(self.edges.diff(dim=1).mul(N).reciprocal_())
        offsets = 2 * torch.arange(C, dtype=torch.float64,
                                   device=self.edges.device)
        self._flat_edges.copy_(
            (self.edges[:, 1:N].double() + offsets.unsqueeze(1)).view(-1))

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
        # Keep every buffer's dtype under .half()/.to(dtype): histogram
        # counts in float16 would lose precision and overflow past 65504.
        before = dict(self._buffers)
        super()._apply(fn, *args, **kwargs)
        for name, old in before.items():
            new = self._buffers[name]
            if new.dtype != old.dtype:
                self._buffers[name] = old.to(new.device)
        return self

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
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
        # Every check before any state changes (the histograms).
        check_cls_inputs(cls_score, label, self.num_classes, ignore_index)
        C = self.num_classes
        if cls_score.dim() > 2:  # (N, C, d1, ...) -> (N * d1 * ..., C)
            logits = cls_score.movedim(1, -1).reshape(-1, C)
        else:
            logits = cls_score
        label = label.reshape(-1).long()
        if weight is not None:
            if weight.numel() != label.numel():
                raise ValueError(
                    f'weight has {weight.numel()} elements but there are '
                    f'{label.numel()} examples; pass one weight per example.')
            weight = weight.reshape(-1).float()
        valid = None
        if ignore_index is not None:
            valid = label != ignore_index
            label = label.masked_fill(~valid, 0)
        counting = self.training and torch.is_grad_enabled()

        # Statistics and loss in float32 whatever the input dtype (AMP).
        dtype = torch.float64 if logits.dtype == torch.float64 \
            else torch.float32
        autocast = torch.is_autocast_enabled(logits.device.type) \
            if logits.device.type != 'meta' else False
        with torch.autocast(logits.device.type, enabled=False) \
                if autocast else nullcontext():
            shift = self._margin_shift().to(dtype) if self.inter else None
            if shift is not None and self.background_index is not None:
                shift = self._exclude_background(shift)

            def weigh(g: Tensor) -> Optional[Tensor]:
                return self._intra_weights(label, g, valid, weight, counting)

            loss = _GHMCWAPFunction.apply(logits.to(dtype), label, shift,
                                          weigh)
            if reduction == 'mean' and avg_factor is None:
                avg_factor = max(label.numel(), 1) if valid is None else \
                    valid.sum().clamp_(min=1).to(dtype)
            loss = weight_reduce_loss(
                loss, weight=weight, reduction=reduction,
                avg_factor=avg_factor)
        if reduction == 'none' and cls_score.dim() > 2:
            loss = loss.view((cls_score.shape[0], ) +
                             tuple(cls_score.shape[2:]))
        return loss * self.loss_weight if self.loss_weight != 1.0 else loss

    @torch.no_grad()
    def _intra_weights(self, label: Tensor, g: Tensor,
                       valid: Optional[Tensor], weight: Optional[Tensor],
                       counting: bool) -> Optional[Tensor]:
        """Bin the examples, count them (training only) and return the
        per-example factor of the loss: the intra-category weights W
        (Eq. 1, method.md §2-4), zero for ignored examples; None when it
        would be all ones."""
        member = torch.isfinite(g)  # NaN/inf logits never enter the state
        if valid is not None:
            member &= valid
        if not self.intra and not counting:
            return None if valid is None else valid.to(g.dtype)
        N = self.num_bins
        # A g equal to an edge belongs to the bin above it; g = 1 falls in
        # the last bin (the top edges are not in the table). Class c's inner
        # edges sit at 2c + e, so the searchsorted index counts (N - 1) per
        # lower class plus the bin within the class.
        query = g.double().nan_to_num_(0.0).clamp_(0, 1)
        query += label * 2
        flat = torch.searchsorted(self._flat_edges, query, right=True)
        flat += label  # = label * N + bin, as bin = idx - label * (N - 1)
        unit = self._unit.view(-1)[flat]  # 1 / (N * d_i)
        density = self.density.view(-1)
        if counting:
            counted = member if weight is None else member & (weight != 0)
            # Sum the batch in float64 first, then add it to the float32
            # buffer: adding examples one by one to a float32 bin stops
            # counting at 2**24 (x + 1 == x), which segmentation (millions
            # of pixels a batch) reaches within a few iterations.
            batch = torch.zeros(density.numel(), dtype=torch.float64,
                                device=density.device)
            batch.index_add_(0, flat, (unit * counted).double())
            density.add_(batch.to(density.dtype))
        if not self.intra:
            return None if valid is None else valid.to(g.dtype)
        own = density[flat]
        # An example that was not counted (evaluation) sees its empty bin
        # as holding one example (method.md §4).
        v = torch.maximum(own, unit)
        if self.intra_weight == 'tempered':
            w = v.pow_(self.alpha - 1.0)
        else:
            rows = self.density[label]
            occupied = rows > 0
            size = torch.where(occupied, rows.pow(self.alpha),
                               torch.zeros_like(rows)).sum(dim=1)
            bins_used = occupied.sum(dim=1)
            was_empty = own <= 0
            v_alpha = v.pow(self.alpha)
            size += torch.where(was_empty, v_alpha, torch.zeros_like(v))
            bins_used = (bins_used + was_empty.long()).clamp_(min=1)
            w = size.div_(v_alpha).div_(bins_used)
        w.mul_(member)  # w is finite: NaN g were binned as g = 0
        # GHM-C's normalisation: mean weight 1 over the counted examples
        # (member examples always have w > 0, so no member -> all zero).
        w.mul_(member.sum() / w.sum().clamp_(min=1e-30))
        return w.to(g.dtype)
