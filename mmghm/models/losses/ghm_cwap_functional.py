"""The functional core of GHM-CWAP: one pure function per step of the method.

Each function implements one section of the project's ``docs/method.md``
(the paper's open choices made concrete) on plain tensors, so it can be
tested against the formulas one by one, reused outside the registered
module (a custom training loop, a vmapped ensemble) and compiled. The state
(``density``, ``ref_density``, ``edges``) is owned by
:class:`~mmghm.models.losses.GHMCWAPLoss`, which calls these in order:

==============================  =============================  ==========
step                            function                       method.md
==============================  =============================  ==========
effective sample size S         :func:`effective_size`         §3
margins M = min(0, a_n - a_m)   :func:`margin_shift`,          §5
                                :func:`split_background_shift`
W * CE(z + M, y) and g          :func:`margin_cross_entropy`   §1, §6
bin of each g                   :func:`bin_index`,             §2
                                :func:`inner_edge_table`,
                                :func:`bin_mass`
density update                  :func:`accumulate_density_`    §2
intra-category weights W        :func:`intra_weights`          §4
AURA / URA re-binning           :func:`aura_edges`,            §7
                                :func:`aura_update`
==============================  =============================  ==========

Nothing here synchronises with the host (no ``.item()``, no data-dependent
shapes), so the whole forward can run under CUDA graphs and
``torch.compile(fullgraph=True)``.
"""
import math
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

__all__ = [
    'effective_size', 'margin_shift', 'split_background_shift',
    'margin_cross_entropy', 'inner_edge_table', 'bin_mass', 'bin_index',
    'accumulate_density_', 'intra_weights', 'aura_edges', 'aura_update',
    'AURAStep'
]


# ----------------------------------------------------------------------
# §3 and §5: effective sample sizes and margins
# ----------------------------------------------------------------------
def _pow_occupied(density: Tensor, alpha: float) -> Tensor:
    """``v^alpha`` where ``v > 0`` and 0 in empty bins."""
    if alpha > 0:  # 0^alpha = 0 already: no mask needed
        return density.pow(alpha)
    return (density > 0).to(density.dtype)


def effective_size(density: Tensor, alpha: float) -> Tensor:
    """``S_c = max(1, sum_i v_{c,i}^alpha)`` (method.md §3, Sec. 3.2).

    Empty bins add nothing; the clamp at 1 keeps a class unseen so far from
    driving a margin to minus infinity.

    Args:
        density: (..., N) densities ``v`` (one row per class).
        alpha: Effectiveness factor in [0, 1].

    Returns:
        Tensor: (...) effective sample sizes, in the dtype of ``density``.
    """
    return _pow_occupied(density, alpha).sum(dim=-1).clamp_(min=1.0)


def margin_shift(density: Tensor, alpha: float, gamma: float) -> Tensor:
    """``a = gamma * log S`` (C,): the margins of Eq. 2 are
    ``M_{m,n} = gamma * log(min(1, S_n / S_m)) = min(0, a_n - a_m)``.

    Args:
        density: (C, N) the density that gives S (method.md §3 step 1).
        alpha: Effectiveness factor.
        gamma: Margin strength (Eq. 3), >= 0.

    Returns:
        Tensor: (C,) shift in the dtype of ``density``.
    """
    return effective_size(density, alpha).log_().mul_(gamma)


def split_background_shift(shift: Tensor, background_index: int) -> Tensor:
    """(2, C) shifts that leave a background class out of the margins.

    Row 0 is ``a`` as a logit's class, row 1 as an example's class. As a
    logit's class the background gets ``+inf`` (``min(inf, a_m) = a_m``, the
    row's own shift: no margin on the background logit); as an example's
    class it gets ``min(a)`` (``min(a_n, min(a))`` is the same for every n:
    no margins for background examples).
    """
    col = shift.clone()
    col[background_index] = math.inf
    row = shift.clone()
    row[background_index] = shift.min()
    return torch.stack([col, row])


class _MarginCrossEntropy(torch.autograd.Function):
    """``CE(z + M, y)`` per example and ``g = 1 - p_y``, hand-written
    backward.

    The margins enter as a row shift: softmax is unchanged by a constant
    added to a row, so ``z_n + min(0, a_n - a_m)`` may be replaced by
    ``z_n + min(a_n, a_m)``, one (B, C) pass less. M is a constant for
    autograd (method.md §6), so ``d CE / d z = softmax(z + M) - onehot(y)``:
    the backward keeps one (B, C) tensor (the log-probabilities) and is one
    autograd node instead of a dozen, and ``g`` comes out of the same pass.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, label: Tensor, shift: Optional[Tensor],
                two_sided: bool = False) -> Tuple[Tensor, Tensor]:
        if shift is None:
            adjusted = logits
        elif two_sided:
            # z_n + a_n - a_m: the row's -a_m cancels in the softmax.
            adjusted = logits + shift.view((1, -1) + (1, ) *
                                           (logits.dim() - 2))
        else:
            col, row = (shift, shift) if shift.dim() == 1 else shift.unbind()
            # (1, C, 1, ...) against (B, 1, d1, ...): classes along dim 1
            col = col.view((1, -1) + (1, ) * (logits.dim() - 2))
            row = torch.take(row, label).unsqueeze(1)
            adjusted = torch.minimum(col, row)
            adjusted += logits
        if shift is not None and adjusted.device.type == 'cpu':
            # In place on our own temporary (each output element depends on
            # its input and the row's reductions only): one large
            # allocation less, which on a CPU means fewer page faults.
            log_prob = torch.log_softmax(adjusted, dim=1, out=adjusted)
        else:
            log_prob = torch.log_softmax(adjusted, dim=1)
        log_p = log_prob.gather(1, label.unsqueeze(1)).squeeze(1)
        # g = 1 - p_y (method.md §1), accurate near p_y = 1; a row with
        # +inf/NaN logits gives NaN, which the caller never counts.
        g = torch.expm1(log_p).neg_()
        ctx.save_for_backward(log_prob, label)
        ctx.mark_non_differentiable(g)
        return log_p.neg(), g

    @staticmethod
    def backward(ctx, grad_loss: Tensor, grad_g: Optional[Tensor]):
        log_prob, label = ctx.saved_tensors
        # (softmax - onehot) * dL: the gradient of -dL * log_prob[y] through
        # log_softmax, which PyTorch computes in one fused pass (a separate
        # exp and multiply cost about 1.5x as much on a CPU).
        grad_log_prob = torch.zeros_like(log_prob).scatter_(
            1, label.unsqueeze(1), grad_loss.neg().unsqueeze(1))
        if log_prob.device.type == 'cpu':  # in place, as in the forward
            grad = torch._log_softmax_backward_data(
                grad_log_prob, log_prob, 1, log_prob.dtype, out=grad_log_prob)
        else:
            grad = torch._log_softmax_backward_data(grad_log_prob, log_prob,
                                                    1, log_prob.dtype)
        return grad, None, None, None


def margin_cross_entropy(logits: Tensor,
                         label: Tensor,
                         shift: Optional[Tensor] = None,
                         two_sided: bool = False) -> Tuple[Tensor, Tensor]:
    """Per-example ``CE(z + M_y, y)`` (Eq. 3) and the gradient norm ``g``.

    Classes lie along dim 1, as in ``F.cross_entropy``: dense logits
    ``(B, C, d1, ...)`` are used in place, without the transposing copy a
    flattening to ``(B * d1 * ..., C)`` would cost.

    Args:
        logits: (B, C) or (B, C, d1, ...) logits ``z``, float32 or float64.
        label: (B,) or (B, d1, ...) int64 labels in [0, C).
        shift: (C,) ``a = gamma * log S`` (:func:`margin_shift`), (2, C)
            from :func:`split_background_shift`, or None for no margins;
            in the dtype of ``logits``.
        two_sided: Margins ``M_{m,n} = a_n - a_m`` for every n (a logit
            adjustment by ``a``) instead of Eq. 2's ``min(0, a_n - a_m)``;
            needs a (C,) shift.

    Returns:
        tuple[Tensor, Tensor]: losses (differentiable w.r.t. ``logits``)
        and ``g = 1 - softmax(z + M)_y`` (detached, method.md §1), both in
        the shape of ``label``.
    """
    if two_sided and shift is not None and shift.dim() != 1:
        raise ValueError('two-sided margins take a (C,) shift, not the '
                         '(2, C) one of a background class.')
    return _MarginCrossEntropy.apply(logits, label, shift, two_sided)


# ----------------------------------------------------------------------
# §2: binning and counting
# ----------------------------------------------------------------------
def inner_edge_table(edges: Tensor) -> Tensor:
    """All classes' inner edges in one sorted float64 vector.

    Class c's inner edges ``e_{c,1..N-1}`` are stored as ``2c + e``, so
    that :func:`bin_index` finds every example's bin with one
    ``searchsorted``. Exact: float32 edges plus an even integer below
    2^20 fit a float64 without rounding.

    Args:
        edges: (C, N+1) bin edges (float32), ``edges[:, 0] = 0``,
            ``edges[:, N] = 1``.

    Returns:
        Tensor: (C * (N-1),) float64, increasing.
    """
    C, N = edges.shape[0], edges.shape[1] - 1
    offsets = 2 * torch.arange(C, dtype=torch.float64, device=edges.device)
    return (edges[:, 1:N].double() + offsets.unsqueeze(1)).reshape(-1)


def bin_mass(edges: Tensor) -> Tensor:
    """``1 / (N * d_{c,i})`` (C, N), what one example adds to its bin's
    density (method.md §2); 1 for uniform bins. Computed in the edges'
    precision and returned as float64 (the density's dtype)."""
    N = edges.shape[1] - 1
    return edges.diff(dim=1).mul(N).reciprocal_().double()


def bin_index(g: Tensor, label: Tensor, table: Tensor) -> Tensor:
    """Flat histogram cell ``label * N + bin`` of every example.

    A g equal to an edge belongs to the bin above it, g = 1 falls in the
    last bin (method.md §2). NaN g (from non-finite logits) is put in bin 0;
    the caller does not count such examples.

    Args:
        g: (B,) gradient norms in [0, 1] (or NaN).
        label: (B,) int64 labels.
        table: :func:`inner_edge_table` of the edges in force.

    Returns:
        Tensor: (B,) int64 indices into ``density.view(-1)``.
    """
    # g is in [0, 1] by construction (g = -expm1(log p), log p <= 0), so no
    # clamp is needed; the offset 2c puts the query among class c's edges.
    query = torch.nan_to_num(g.double(), nan=0.0).add_(label, alpha=2)
    index = torch.searchsorted(table, query, right=True)
    # The search counts N - 1 inner edges per lower class plus the bin:
    # index = label * (N - 1) + bin, so index + label = label * N + bin.
    return index.add_(label)


def accumulate_density_(density: Tensor, cell: Tensor,
                        mass: Tensor) -> Tensor:
    """Add each example's ``mass`` to its cell of ``density``, in place.

    ``density`` is float64: one float32 bin stops counting at 2**24
    (``x + 1 == x``), which segmentation (millions of pixels a batch)
    reaches within a few iterations.

    Args:
        density: (C, N) float64 running density (a buffer; changed).
        cell: (B,) flat cells from :func:`bin_index`.
        mass: (B,) float64 ``1 / (N * d)`` of each example's bin, 0 for
            examples that are not counted.

    Returns:
        Tensor: ``density``.
    """
    density.view(-1).index_add_(0, cell, mass)
    return density


# ----------------------------------------------------------------------
# §4: intra-category weights
# ----------------------------------------------------------------------
def intra_weights(density: Tensor,
                  cell: Tensor,
                  label: Tensor,
                  mass: Tensor,
                  member: Tensor,
                  alpha: float,
                  form: str = 'tempered') -> Tensor:
    """Intra-category weights W (Eq. 1, method.md §4), batch mean 1.

    Read from the running density, which already includes this batch, so an
    example's own bin is never empty in training. An example that was not
    counted (evaluation) sees its bin as holding at least one example:
    ``v := max(v, 1 / (N * d))``.

    - ``'tempered'``: ``W = v^(alpha - 1)``.
    - ``'paper'``: ``W = S_c / v^alpha / K_c`` with ``S_c`` and the number
      of non-empty bins ``K_c`` from the same running density.

    Both are rescaled so that their mean over the ``member`` examples is 1
    (GHM-C's normalisation); non-members get 0.

    Args:
        density: (C, N) float64 running density.
        cell: (B,) flat cells (:func:`bin_index`).
        label: (B,) labels (used by ``'paper'``).
        mass: (B,) float64 ``1 / (N * d)`` of each example's bin.
        member: (B,) bool, the examples that take part (valid, finite g).
        alpha: Effectiveness factor.
        form: ``'tempered'`` or ``'paper'``.

    Returns:
        Tensor: (B,) float64 weights.
    """
    own = density.view(-1).index_select(0, cell)
    v = torch.maximum(own, mass)
    if form == 'tempered':
        w = v.pow_(alpha - 1.0)
    elif form == 'paper':
        rows = density.index_select(0, label)  # (B, N)
        size = _pow_occupied(rows, alpha).sum(dim=1)
        bins_used = (rows > 0).sum(dim=1)
        # An uncounted example adds its own (otherwise empty) bin.
        was_empty = own <= 0
        v_alpha = v.pow(alpha)
        size += torch.where(was_empty, v_alpha, torch.zeros_like(v_alpha))
        bins_used = (bins_used + was_empty.long()).clamp_(min=1)
        w = size.div_(v_alpha).div_(bins_used)
    else:
        raise ValueError(
            f"form must be 'tempered' or 'paper', but got {form!r}.")
    # Members always have w > 0, so no member at all gives all zeros.
    w = w.mul_(member)
    return w.mul_(member.sum() / w.sum().clamp_(min=1e-30))


# ----------------------------------------------------------------------
# §7: the AURA update
# ----------------------------------------------------------------------
def aura_edges(density: Tensor) -> Tensor:
    """The bins Algorithm 1 makes from a histogram.

    Widths ``d_i ∝ 1 / log(max(v_i, e))`` (the paper's ``1 / log(v_i)``,
    guarded: ``log v <= 1`` or ``v = 0`` would give negative or infinite
    widths), normalised to sum to 1; edges are their cumulative sum with
    the ends pinned to exactly 0 and 1.

    Args:
        density: (C, N) densities.

    Returns:
        Tensor: (C, N+1) float32 edges.
    """
    widths = density.float().clamp(min=math.e).log_().reciprocal_()
    widths = widths / widths.sum(dim=1, keepdim=True)
    edges = widths.new_zeros(density.shape[0], density.shape[1] + 1)
    edges[:, 1:] = widths.double().cumsum(dim=1).float()
    edges[:, -1] = 1.0
    return edges


class AURAStep(NamedTuple):
    """What one update makes of the state (see :func:`aura_update`)."""

    #: (C,) bool, classes with at least one example since the last update.
    seen: Tensor
    #: (C, N) new reference density (float32).
    ref_density: Tensor
    #: (C, N+1) bins the new reference was counted in (float32).
    ref_edges: Tensor
    #: (C, N+1) new bins (float32).
    edges: Tensor


def aura_update(density: Tensor, ref_density: Tensor, edges: Tensor,
                ref_edges: Tensor, adaptive: bool) -> AURAStep:
    """One step of Algorithm 1 (method.md §7 step 2), out of place.

    For every class with at least one example since the last update the
    running density becomes the reference (it was counted in the current
    ``edges``, which become its ``ref_edges``) and, with AURA, the class is
    re-binned by :func:`aura_edges`; URA keeps uniform widths. A class with
    no example keeps its reference, its reference bins and its bins.

    Args:
        density: (C, N) running density (already summed over ranks).
        ref_density: (C, N) current reference density.
        edges: (C, N+1) bins in force.
        ref_edges: (C, N+1) bins the current reference was counted in.
        adaptive: AURA (True) or URA (False).

    Returns:
        AURAStep: the new state; the caller resets ``density`` to 0.
    """
    seen = density.sum(dim=1) > 0
    keep = seen.unsqueeze(1)
    new_ref = torch.where(keep, density.to(ref_density.dtype), ref_density)
    new_ref_edges = torch.where(keep, edges, ref_edges)
    new_edges = torch.where(keep, aura_edges(density), edges) if adaptive \
        else edges.clone()
    return AURAStep(seen, new_ref, new_ref_edges, new_edges)
