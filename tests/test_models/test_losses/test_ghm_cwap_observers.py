"""GHMCWAPLoss's observation API: the record update() returns and gives its
update observers, and the batch observers that see the loss's own g."""
import torch

from mmghm.models.losses import AURAUpdate, GHMCWAPLoss
from mmghm.models.losses import ghm_cwap_functional as gf

C, N = 4, 5


def batch(seed, B=24):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(B, C, generator=gen) * 3,
            torch.tensor([0, 0, 1, 2] * (B // 4)))  # class 3 never appears


def test_update_returns_and_reports_what_changed():
    loss = GHMCWAPLoss(C, num_bins=N)
    seen_by_observer = []
    handle = loss.register_update_observer(
        lambda module, record: seen_by_observer.append((module, record)))
    loss(*batch(0))
    edges_before = loss.edges.clone()
    density = loss.density.clone()
    record = loss.update()
    assert isinstance(record, AURAUpdate)
    assert seen_by_observer == [(loss, record)]
    assert record.seen.tolist() == [True, True, True, False]
    assert record.num_updates == 1
    # the reference was counted in the bins in force before the update
    assert torch.equal(record.ref_edges, edges_before)
    assert torch.equal(record.ref_edges, loss.ref_edges)
    assert torch.equal(record.edges, loss.edges)
    assert torch.equal(record.ref_density, density.float())
    # the record is a copy: later training does not change it
    loss(*batch(1))
    loss.update()
    assert record.num_updates == 1 and len(seen_by_observer) == 2
    assert not torch.equal(record.edges, loss.edges)
    # the class never seen keeps its (uniform) bins and reference bins
    assert torch.equal(loss.edges[3], edges_before[3])
    assert torch.equal(loss.ref_edges[3], edges_before[3])
    assert torch.equal(loss.ref_edges[:3], record.edges[:3])
    handle.remove()
    loss.update()
    assert len(seen_by_observer) == 2


def test_last_update_is_the_record_of_the_latest_update():
    loss = GHMCWAPLoss(C, num_bins=N)
    assert loss.last_update is None
    loss(*batch(0))
    first = loss.update()
    assert loss.last_update is first
    loss(*batch(1))  # training between updates keeps it
    assert loss.last_update is first
    second = loss.update()
    assert loss.last_update is second and second is not first
    assert (first.num_updates, second.num_updates) == (1, 2)


def test_batch_observer_sees_the_loss_own_g_and_counted_examples():
    loss = GHMCWAPLoss(C, num_bins=N, ignore_index=255)
    loss(*batch(0))
    loss.update()  # margins on: g is that of the adjusted logits
    got = []
    loss.register_batch_observer(lambda module, b: got.append(b))
    logits, labels = batch(2)
    labels = labels.clone()
    labels[:2] = 255
    weight = torch.ones(len(labels))
    weight[5] = 0
    shift = gf.margin_shift(loss.ref_density, loss.alpha, loss.gamma)
    expected_g = gf.margin_cross_entropy(logits, labels.clamp(max=C - 1),
                                         shift)[1]
    loss(logits, labels, weight=weight)
    (observed, ) = got
    keep = (labels != 255) & (weight != 0)
    torch.testing.assert_close(observed.g[keep], expected_g[keep])
    assert torch.equal(observed.counted, keep)
    assert torch.equal(observed.label[keep], labels[keep])
    # nothing in evaluation or without gradients
    loss.eval()
    loss(logits, labels)
    loss.train()
    with torch.no_grad():
        loss(logits, labels)
    assert len(got) == 1
