"""GHMCWAPLoss against an independent, slow reference of the paper's Eq. 1-3
and Algorithm 1, made concrete by docs/method.md (shared/docs/method.md)."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from mmghm.models.losses import GHMCWAPLoss


class ReferenceGHMCWAP:
    """Plain-Python GHM-CWAP, written from the formulas with loops.

    State is kept in Python floats (float64), bins are found by scanning the
    edges, margins and weights are computed example by example.
    """

    def __init__(self, C, N=30, alpha=0.9, gamma=0.8, intra=True,
                 intra_weight='tempered', inter=True, adaptive=True,
                 margin='one_sided', start_epoch=0):
        self.C, self.N, self.alpha, self.gamma = C, N, alpha, gamma
        self.intra, self.intra_weight = intra, intra_weight
        self.inter, self.adaptive = inter, adaptive
        # options beyond the paper: two-sided margins, deferred start
        self.margin, self.start_epoch, self.epoch = margin, start_epoch, 0
        self.edges = [[i / N for i in range(N + 1)] for _ in range(C)]
        self.density = [[0.0] * N for _ in range(C)]
        self.ref = [[0.0] * N for _ in range(C)]
        self.updates = 0

    def size(self, row):
        # S_c = sum_i v_i^alpha, empty bins add nothing, clamped at 1
        return max(1.0, sum(v**self.alpha for v in row if v > 0))

    def find_bin(self, c, g):
        e = self.edges[c]
        for i in range(self.N):
            if e[i] <= g < e[i + 1]:
                return i
        return self.N - 1  # g == 1 falls in the last bin

    def loss(self, logits, labels, training=True):
        """Mean of W_k * CE(z_k + M_{y_k}, y_k); autograd on ``logits``."""
        B = logits.shape[0]
        rows = self.ref if self.updates > 0 else self.density
        S = [self.size(rows[c]) for c in range(self.C)]
        ces, gs, bins = [], [], []
        active = self.epoch >= self.start_epoch
        for k in range(B):
            m = int(labels[k])
            margin = torch.zeros(self.C, dtype=logits.dtype)
            if self.inter and active:
                for n in range(self.C):
                    ratio = S[n] / S[m]
                    if self.margin == 'one_sided':
                        ratio = min(1.0, ratio)
                    margin[n] = self.gamma * math.log(ratio)
            adj = logits[k] + margin
            ces.append(-F.log_softmax(adj, dim=0)[m])
            p = F.softmax(adj.detach(), dim=0)
            g = 1.0 - float(p[m])
            gs.append(g)
            bins.append(self.find_bin(m, g))
        units = []
        for k in range(B):
            m, i = int(labels[k]), bins[k]
            width = self.edges[m][i + 1] - self.edges[m][i]
            units.append(1.0 / (self.N * width))
            if training:
                self.density[m][i] += units[-1]
        weights = [1.0] * B
        if self.intra and active:
            for k in range(B):
                m, i = int(labels[k]), bins[k]
                v = self.density[m][i]
                empty = v <= 0
                v = max(v, units[k])
                if self.intra_weight == 'tempered':
                    weights[k] = v**(self.alpha - 1)
                else:
                    row = list(self.density[m])
                    if empty:
                        row[i] = v
                    s = sum(x**self.alpha for x in row if x > 0)
                    K = sum(1 for x in row if x > 0)
                    weights[k] = s / v**self.alpha / K
            mean = sum(weights) / B
            weights = [w / mean for w in weights]
        return sum(w * ce for w, ce in zip(weights, ces)) / B

    def update(self):
        for c in range(self.C):
            if sum(self.density[c]) <= 0:
                continue  # unseen class keeps its reference and bins
            self.ref[c] = list(self.density[c])
            if self.adaptive:
                widths = [1.0 / math.log(max(v, math.e))
                          for v in self.density[c]]
                total = sum(widths)
                acc, edges = 0.0, [0.0]
                for w in widths[:-1]:
                    acc += w / total
                    edges.append(acc)
                edges.append(1.0)
                self.edges[c] = edges
        self.density = [[0.0] * self.N for _ in range(self.C)]
        self.updates += 1


def long_tailed_batch(gen, B, C, scale=3.0, dtype=torch.float64):
    # class c drawn with probability ~ 0.5^c, logits spread so that g covers
    # many bins
    probs = torch.tensor([0.6**c for c in range(C)])
    labels = torch.multinomial(probs, B, replacement=True, generator=gen)
    logits = torch.randn(B, C, generator=gen, dtype=dtype) * scale
    return logits, labels


def compare_runs(kwargs, C=5, N=8, epochs=3, batches=3, B=48, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ref = ReferenceGHMCWAP(C, N, **kwargs)
    impl = GHMCWAPLoss(C, num_bins=N, **kwargs).train()
    for epoch in range(epochs):
        ref.epoch = epoch
        impl.set_epoch(epoch)
        for _ in range(batches):
            logits, labels = long_tailed_batch(gen, B, C)
            z_ref = logits.clone().requires_grad_(True)
            z_impl = logits.clone().requires_grad_(True)
            expected = ref.loss(z_ref, labels)
            actual = impl(z_impl, labels)
            expected.backward()
            actual.backward()
            torch.testing.assert_close(actual, expected, rtol=1e-5,
                                       atol=1e-6)
            torch.testing.assert_close(z_impl.grad, z_ref.grad, rtol=1e-5,
                                       atol=1e-6)
            torch.testing.assert_close(
                impl.density.double(),
                torch.tensor(ref.density, dtype=torch.float64),
                rtol=1e-5, atol=1e-5)
        ref.update()
        impl.update()
        f64 = torch.float64
        torch.testing.assert_close(impl.edges.double(),
                                   torch.tensor(ref.edges, dtype=f64),
                                   rtol=0, atol=1e-6)
        torch.testing.assert_close(impl.ref_density.double(),
                                   torch.tensor(ref.ref, dtype=f64),
                                   rtol=1e-5, atol=1e-5)
        assert int(impl.num_updates) == ref.updates
    return ref, impl


SWITCHES = [
    dict(intra=intra, intra_weight=form, inter=inter, adaptive=adaptive)
    for intra, form, inter, adaptive in itertools.product(
        [True, False], ['tempered', 'paper'], [True, False], [True, False])
    if intra or form == 'tempered'
]


@pytest.mark.parametrize('kwargs', SWITCHES,
                         ids=lambda k: '-'.join(f'{v}' for v in k.values()))
def test_matches_reference(kwargs):
    ref, impl = compare_runs(kwargs)
    if kwargs['adaptive']:
        # AURA must actually have moved some bins, else the test is vacuous
        uniform = torch.linspace(0, 1, impl.num_bins + 1)
        assert not torch.allclose(impl.edges, uniform.expand_as(impl.edges))
    else:
        uniform = torch.linspace(0, 1, impl.num_bins + 1)
        torch.testing.assert_close(impl.edges,
                                   uniform.expand_as(impl.edges))


def test_default_hyper_parameters_match_reference():
    # the paper's N = 30, alpha = 0.9, gamma = 0.8
    compare_runs(dict(), C=4, N=30, epochs=2, batches=2, B=64)


def test_eval_mode_counts_nothing_and_matches_reference():
    gen = torch.Generator().manual_seed(1)
    ref = ReferenceGHMCWAP(4, 6)
    impl = GHMCWAPLoss(4, num_bins=6).train()
    for _ in range(2):
        logits, labels = long_tailed_batch(gen, 32, 4)
        ref.loss(logits, labels)
        impl(logits, labels)
    ref.update()
    impl.update()
    impl.eval()
    state = {k: v.clone() for k, v in impl.state_dict().items()}
    logits, labels = long_tailed_batch(gen, 32, 4)
    expected = ref.loss(logits, labels, training=False)
    actual = impl(logits, labels)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    for k, v in impl.state_dict().items():
        assert torch.equal(v, state[k]), k
    # no_grad in training mode (e.g. a validation step) counts nothing either
    impl.train()
    with torch.no_grad():
        impl(logits, labels)
    for k, v in impl.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_first_batch_has_no_margins_and_class_wise_weights():
    # method.md §3: before any count S = 1, so the first batch has no
    # margins: plain CE, weighted within each class by the batch's own
    # histogram (uniform bins, so each example adds 1 to its bin and
    # W = count^(alpha - 1), normalised to a batch mean of 1).
    C, N, alpha = 3, 4, 0.9
    loss = GHMCWAPLoss(C, num_bins=N, alpha=alpha)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(16, C, dtype=torch.float64, generator=gen) * 3
    labels = torch.randint(0, C, (16, ), generator=gen)
    ce = F.cross_entropy(logits, labels, reduction='none')
    g = 1 - torch.exp(-ce)  # no margins: g = 1 - softmax(z)_y
    bins = (g * N).floor().long().clamp(max=N - 1)
    counts = torch.zeros(C, N, dtype=torch.float64)
    for y, b in zip(labels, bins):
        counts[y, b] += 1
    w = counts[labels, bins]**(alpha - 1)
    w = w / w.mean()
    assert w.max() > 1.1 * w.min()  # the weights do differ in the batch
    torch.testing.assert_close(loss(logits, labels), (w * ce).mean())
    torch.testing.assert_close(loss.density, counts)


def test_gradcheck_float64():
    loss = GHMCWAPLoss(5, num_bins=6)
    gen = torch.Generator().manual_seed(3)
    for _ in range(2):
        loss(*long_tailed_batch(gen, 40, 5))
    loss.update()
    loss(*long_tailed_batch(gen, 40, 5))
    loss.eval()  # statistics frozen, so the function is deterministic
    logits, labels = long_tailed_batch(gen, 6, 5)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: loss(z, labels), (logits, ),
                                    eps=1e-6, atol=1e-6)


def test_update_at_inaturalist_size_rebins_every_seen_class_by_the_rule():
    # 8,142 classes (iNaturalist 2018), one vectorised update (its time is
    # measured by tools/analysis/benchmark_losses.py, not here): every seen
    # class gets the bins of Algorithm 1, every unseen class keeps its own.
    C, N = 8142, 30
    loss = GHMCWAPLoss(C, num_bins=N)
    gen = torch.Generator().manual_seed(0)
    density = torch.rand(C, N, generator=gen, dtype=torch.float64) * 50
    density[::2, ::3] = 0
    density[7::100] = 0  # unseen classes
    loss.density.copy_(density)
    record = loss.update()
    seen = density.sum(1) > 0
    assert torch.equal(record.seen, seen)
    uniform = GHMCWAPLoss(2, num_bins=N).edges[0].expand(C, N + 1)
    assert torch.equal(loss.edges[~seen], uniform[~seen])
    for c in range(0, C, 509):  # the rule, class by class, with loops
        if not seen[c]:
            continue
        widths = [1 / math.log(max(v, math.e)) for v in density[c].tolist()]
        edges = [0.0]
        for w in widths[:-1]:
            edges.append(edges[-1] + w / sum(widths))
        edges.append(1.0)
        torch.testing.assert_close(
            loss.edges[c].double(), torch.tensor(edges, dtype=torch.float64),
            rtol=0, atol=1e-6)
    widths = loss.edges.diff(dim=1)
    assert (widths > 0).all()
    assert torch.equal(loss.edges[:, -1], torch.ones(C))
    assert torch.equal(loss.edges[:, 0], torch.zeros(C))


# Options beyond the paper (docs/method.md): two-sided margins (the logit
# adjustment gamma * log(S_n / S_m) for every n) and a deferred start (plain
# cross-entropy before start_epoch, histograms counted throughout).
OPTIONS = [
    dict(margin='two_sided'),
    dict(margin='two_sided', intra=False, adaptive=False),
    dict(start_epoch=1),
    dict(start_epoch=2, margin='two_sided', intra_weight='paper'),
]


@pytest.mark.parametrize('kwargs', OPTIONS,
                         ids=lambda k: '-'.join(f'{v}' for v in k.values()))
def test_options_match_reference(kwargs):
    ref, impl = compare_runs(kwargs)
    assert int(impl.num_updates) == 3 and impl.ref_density.sum() > 0


def test_deferred_start_is_cross_entropy_and_still_counts():
    gen = torch.Generator().manual_seed(3)
    loss = GHMCWAPLoss(4, num_bins=6, start_epoch=2).train()
    loss.set_epoch(1)
    assert not loss.started
    logits, labels = long_tailed_batch(gen, 32, 4)
    torch.testing.assert_close(loss(logits, labels),
                               F.cross_entropy(logits, labels), rtol=1e-6,
                               atol=1e-7)
    assert loss.density.sum() == 32  # uniform bins: one per example
    loss.update()
    loss.set_epoch(2)
    assert loss.started
    twin = GHMCWAPLoss(4, num_bins=6).train()
    state = loss.state_dict()
    state['config'] = twin.config.clone()  # same state, not deferred
    twin.load_state_dict(state)
    logits, labels = long_tailed_batch(gen, 32, 4)
    expected = twin(logits, labels)
    torch.testing.assert_close(loss(logits, labels), expected)
    assert not torch.allclose(expected, F.cross_entropy(logits, labels))


def test_two_sided_margins_refuse_a_background_class():
    with pytest.raises(ValueError, match="margin='two_sided'.*without "
                       'background_index'):
        GHMCWAPLoss(5, margin='two_sided', background_index=-1)
    with pytest.raises(ValueError, match="margin must be one of"):
        GHMCWAPLoss(5, margin='both')
    with pytest.raises(ValueError, match='start_epoch'):
        GHMCWAPLoss(5, start_epoch=-1)


def test_checkpoint_of_another_margin_form_is_refused():
    saved = GHMCWAPLoss(4, num_bins=6, margin='two_sided',
                        start_epoch=3).state_dict()
    with pytest.raises(ValueError, match="margin: checkpoint 'two_sided', "
                       "this loss 'one_sided'; start_epoch: checkpoint 3, "
                       'this loss 0'):
        GHMCWAPLoss(4, num_bins=6).load_state_dict(saved)
