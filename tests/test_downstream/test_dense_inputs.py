"""GHM-CWAP on detection- and segmentation-shaped inputs, without the host
libraries (these run in every environment).

- ``background_index``: margins (Eq. 2) that leave the detector's background
  class out, checked against a loop written from the formula.
- Counting millions of pixels: the float32 density keeps counting past 2**24.
- Ignored pixels never reach the histograms, whatever their logits.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from mmghm.models.losses import GHMCWAPLoss


def seen_epochs(loss, C, counts, seed=0, epochs=2):
    """Feed ``epochs`` epochs of random logits with ``counts[c]`` examples of
    class c each, with an update after each."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.cat([torch.full((n, ), c) for c, n in enumerate(counts)])
    for _ in range(epochs):
        loss(torch.randn(len(labels), C, generator=gen) * 2, labels)
        loss.update()
    return loss


def reference_margin_loss(logits, labels, ref_density, gamma, alpha, bg):
    """Per-example CE(z + M_y, y) with M of Eq. 2 from the formula, the
    background left out: M[m, n] = 0 if m == bg or n == bg, else
    gamma * log(min(1, S_n / S_m)), S_c = max(1, sum_{v > 0} v^alpha)."""
    C = logits.shape[1]
    S = []
    for c in range(C):
        S.append(max(1.0, sum(float(v)**alpha for v in ref_density[c]
                              if v > 0)))
    out = []
    for k in range(logits.shape[0]):
        m = int(labels[k])
        margin = torch.zeros(C, dtype=logits.dtype)
        for n in range(C):
            if bg is not None and (m == bg or n == bg):
                continue
            margin[n] = gamma * math.log(min(1.0, S[n] / S[m]))
        out.append(-F.log_softmax(logits[k] + margin, dim=0)[m])
    return torch.stack(out)


@pytest.mark.parametrize('bg_arg, bg', [(None, None), (-1, 4), (4, 4),
                                        (1, 1)])
def test_background_margins_match_formula(bg_arg, bg):
    C = 5
    counts = [3, 40, 12, 1, 90]  # background (index 4) the most frequent
    loss = GHMCWAPLoss(C, num_bins=6, intra=False, background_index=bg_arg)
    seen_epochs(loss, C, counts)
    assert loss.background_index == bg
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(16, C, generator=gen, dtype=torch.float64) * 2
    labels = torch.randint(0, C, (16, ), generator=gen)
    labels[:3] = torch.tensor([4, 1, 3])  # background, head, rarest
    logits.requires_grad_(True)
    out = loss(logits, labels, reduction_override='none')
    ref_logits = logits.detach().clone().requires_grad_(True)
    expected = reference_margin_loss(ref_logits, labels, loss.ref_density,
                                     loss.gamma, loss.alpha, bg)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad)
    if bg is not None:
        # background examples: plain cross-entropy, margins left out
        is_bg = labels == bg
        torch.testing.assert_close(
            out[is_bg],
            F.cross_entropy(logits.detach()[is_bg], labels[is_bg],
                            reduction='none'))


@pytest.mark.parametrize('intra', [False, True], ids=['no-W', 'W'])
@pytest.mark.parametrize('counts, background_most_frequent', [
    ([2, 5, 9, 60], True),  # as in detection
    ([60, 9, 5, 2], False),
], ids=['bg-most-frequent', 'bg-rarest'])
def test_background_index_changes_only_the_margins(
        counts, background_most_frequent, intra):
    """Same state, inter=False: background_index has no effect. With
    margins it changes only the losses whose margins change:
    M_{m,n} = gamma * log(min(1, S_n / S_m)) is 0 wherever S_n >= S_m.

    - background the most frequent class: foreground examples had no
      margin on the background logit anyway (unchanged); background
      examples lose their margins (changed).
    - background the rarest class: background examples had no margins
      anyway (unchanged); foreground examples lose their margin on the
      background logit (changed).

    "Unchanged" is exact without intra weights, and up to one common factor
    with them: the weights are normalised to mean 1 over the whole batch,
    which holds the changed examples."""
    C = 4
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(32, C, generator=gen)
    labels = torch.randint(0, C, (32, ), generator=gen)
    is_bg = labels == 3
    assert 0 < is_bg.sum() < 32
    changed, same = (is_bg, ~is_bg) if background_most_frequent else \
        (~is_bg, is_bg)
    for inter in (False, True):
        a, b = (seen_epochs(
            GHMCWAPLoss(C, num_bins=5, intra=intra, inter=inter,
                        background_index=bg), C, counts) for bg in (None, -1))
        la = a(logits, labels, reduction_override='none')
        lb = b(logits, labels, reduction_override='none')
        if not inter:
            torch.testing.assert_close(la, lb)
            torch.testing.assert_close(a.density, b.density)
            continue
        assert not torch.isclose(la[changed], lb[changed]).any()
        if intra:
            ratio = la[same] / lb[same]
            torch.testing.assert_close(ratio, ratio[:1].expand_as(ratio))
        else:
            torch.testing.assert_close(la[same], lb[same])


@pytest.mark.parametrize('value', [True, 1.5, 5, -6, '4'])
def test_bad_background_index(value):
    with pytest.raises(ValueError, match='background_index'):
        GHMCWAPLoss(5, background_index=value)


def test_density_keeps_counting_past_float32_integer_range():
    """A bin already holding 2**24 examples (a few Cityscapes iterations of
    one class) still counts each new pixel: one-by-one float32 adds would
    stop at 2**24 (2**24 + 1 rounds back to 2**24)."""
    loss = GHMCWAPLoss(2, num_bins=2, inter=False)  # uniform: unit = 1
    loss.density[0, 1] = 2.0**24
    # equal logits: g = 1 - 1/2 = 0.5, on the edge -> the upper bin
    logits = torch.zeros(1, 2, 20, 50)
    labels = torch.zeros(1, 20, 50, dtype=torch.long)
    loss(logits, labels)
    assert loss.density[0, 1].item() == 2.0**24 + 1000
    assert loss.density.sum().item() == 2.0**24 + 1000


def test_ignored_pixels_never_enter_histograms():
    """Ignored pixels: whatever their logits, the histograms and the loss
    are those of the other pixels alone; NaN there leaves the state clean."""
    C, N = 3, 4
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, C, 6, 5, generator=gen) * 3
    labels = torch.randint(0, C, (2, 6, 5), generator=gen)
    labels[0, :2] = 255
    labels[1, :, 0] = 255
    ignored = labels == 255
    results = []
    for fill in (0.0, 50.0, -50.0, float('nan')):
        z = logits.clone().movedim(1, -1)
        z[ignored] = fill
        loss = GHMCWAPLoss(C, num_bins=N, ignore_index=255)
        value = loss(z.movedim(-1, 1), labels)
        if math.isnan(fill):
            torch.testing.assert_close(loss.density, results[0][1])
            continue
        results.append((value, loss.density.clone()))
        # uniform bins: the density is a count; one per kept pixel
        assert loss.density.sum().item() == (~ignored).sum().item()
        kept = labels[~ignored]
        torch.testing.assert_close(
            loss.density.sum(1),
            torch.bincount(kept, minlength=C).double())
    for value, density in results[1:]:
        torch.testing.assert_close(value, results[0][0])
        torch.testing.assert_close(density, results[0][1])
    # the per-class bins are those of g = 1 - softmax(z)_y of kept pixels
    # (first batch: no margins yet)
    flat = logits.movedim(1, -1)[~ignored]
    g = 1 - flat.softmax(1).gather(1, kept[:, None]).squeeze(1)
    bins = (g * N).floor().clamp(max=N - 1).long()
    expected = torch.zeros(C, N)
    expected.index_put_((kept, bins), torch.ones_like(g), accumulate=True)
    torch.testing.assert_close(results[0][1], expected.double())
