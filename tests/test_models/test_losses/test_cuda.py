"""Training steps of every loss on CUDA: no host synchronisation, and a CUDA
graph of a whole step (ResNet + GHMCWAPLoss + SGD) replayed across an AURA
update equal to eager.

The CUDA tests skip without a GPU (``tools/device/run_benchmarks.sh`` runs
them on one); the step builder they share runs on the CPU in every CI run.
"""
import copy
import inspect

import pytest
import torch
import torch.nn as nn

import mmghm.models  # noqa: F401  (registers everything)
from mmghm.models.backbones import CifarResNet
from mmghm.models.losses import GHMCWAPLoss
from mmghm.registry import MODELS

C = 10
COUNTS = [500, 300, 180, 100, 60, 36, 20, 12, 7, 5]
LOSS_NAMES = sorted(n for n in MODELS.module_dict if n.endswith('Loss'))
cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason='needs a CUDA device')


def build_loss(name, **extra):
    cfg = dict(type=f'mmghm.{name}', **extra)
    params = inspect.signature(MODELS.get(name)).parameters
    if 'num_classes' in params:
        cfg.setdefault('num_classes', C)
    if 'class_counts' in params:
        cfg.setdefault('class_counts', COUNTS)
    loss = MODELS.build(cfg)
    if hasattr(loss, 'set_epoch'):
        loss.set_epoch(0)
    return loss


class Classifier(nn.Module):
    """ResNet (CIFAR form) + global pooling + linear head."""

    def __init__(self, depth=20):
        super().__init__()
        self.backbone = CifarResNet(depth=depth)
        self.fc = nn.Linear(64, C)

    def forward(self, x):
        return self.fc(self.backbone(x)[-1].mean(dim=(2, 3)))


def make_step(loss, device, depth=20, seed=0):
    """(step, model, optimizer): ``step(x, y)`` is one SGD training step and
    returns the loss tensor (left on the device, never read back)."""
    torch.manual_seed(seed)
    model = Classifier(depth).to(device).train()
    loss = loss.to(device).train()
    optim = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                            weight_decay=5e-4)

    def step(x, y):
        optim.zero_grad(set_to_none=True)
        value = loss(model(x), y)
        value.backward()
        optim.step()
        return value

    return step, model, optim


def make_data(num, device, B=32, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    probs = torch.tensor(COUNTS, dtype=torch.float)
    out = []
    for _ in range(num):
        x = torch.randn(B, 3, size, size, generator=gen)
        y = torch.multinomial(probs, B, replacement=True, generator=gen)
        out.append((x.to(device), y.to(device)))
    return out


@pytest.mark.parametrize('name', LOSS_NAMES)
def test_step_builder_trains_every_loss_on_cpu(name):
    """The step the CUDA tests time and capture, on the CPU: it trains."""
    step, model, _ = make_step(build_loss(name), 'cpu')
    before = copy.deepcopy(model.state_dict())
    for x, y in make_data(2, 'cpu', B=8, size=8):
        value = step(x, y)
    assert torch.isfinite(value)
    changed = [k for k, v in model.state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before[k])]
    assert 'fc.weight' in changed and len(changed) > 10


@cuda
@pytest.mark.parametrize('name', LOSS_NAMES)
def test_training_step_never_syncs_with_the_host(name):
    """A whole training step of every project loss runs under
    ``torch.cuda.set_sync_debug_mode('error')`` (ignored labels too)."""
    step, _, _ = make_step(build_loss(name, ignore_index=255), 'cuda')
    data = make_data(3, 'cuda')
    data[2][1][:4] = 255
    step(*data[0])  # lazy initialisation (cuDNN, allocator) outside
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        for x, y in data[1:]:
            value = step(x, y)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert torch.isfinite(value).item()


@cuda
def test_loss_on_cuda_equals_cpu_across_an_update():
    data = [(x.double(), y) for x, y in make_data(6, 'cpu', B=64)]
    gen = torch.Generator().manual_seed(1)
    losses = {d: GHMCWAPLoss(C, background_index=-1).to(d)
              for d in ('cpu', 'cuda')}
    for k, (_, y) in enumerate(data):
        logits = torch.randn(len(y), C, generator=gen,
                             dtype=torch.float64) * 3
        outs, grads = {}, {}
        for d, loss in losses.items():
            z = logits.to(d).requires_grad_(True)
            outs[d] = loss(z, y.to(d))
            outs[d].backward()
            grads[d] = z.grad.cpu()
        torch.testing.assert_close(outs['cuda'].cpu(), outs['cpu'])
        torch.testing.assert_close(grads['cuda'], grads['cpu'])
        if k == 2:
            for loss in losses.values():
                loss.update()
    for name in ('density', 'ref_density', 'edges', 'ref_edges'):
        torch.testing.assert_close(
            getattr(losses['cuda'], name).cpu(),
            getattr(losses['cpu'], name))


@cuda
def test_cuda_graph_of_a_training_step_sees_each_update():
    """AURA changes the loss's buffers in place, so one captured
    graph of forward + loss + backward + SGD, replayed across updates (the
    first included), trains exactly as eager steps do."""
    cudnn = (torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        graph_loss, eager_loss = GHMCWAPLoss(C), GHMCWAPLoss(C)
        step, model, _ = make_step(graph_loss, 'cuda', depth=32)
        ref_step, ref_model, _ = make_step(eager_loss, 'cuda', depth=32)
        data = make_data(12, 'cuda', B=128, size=32)
        static_x = data[0][0].clone()
        static_y = data[0][1].clone()
        # warm-up on a side stream (the documented recipe), both alike
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step(static_x, static_y)
        torch.cuda.current_stream().wait_stream(side)
        for _ in range(3):
            ref_step(static_x, static_y)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_value = step(static_x, static_y)
        for k, (x, y) in enumerate(data):
            static_x.copy_(x)
            static_y.copy_(y)
            graph.replay()
            value = ref_step(x, y)
            torch.testing.assert_close(static_value, value, rtol=1e-4,
                                       atol=1e-5)
            if k in (3, 7):  # epoch ends: the first and a second update
                graph_loss.update()
                eager_loss.update()
        torch.cuda.synchronize()
        assert int(graph_loss.num_updates) == 2
        for name in ('density', 'ref_density', 'edges'):
            torch.testing.assert_close(getattr(graph_loss, name),
                                       getattr(eager_loss, name),
                                       rtol=1e-4, atol=1e-4)
        uniform = GHMCWAPLoss(C).edges.cuda()
        assert not torch.allclose(graph_loss.edges, uniform)  # AURA moved
        for p, q in zip(model.parameters(), ref_model.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-4)
    finally:
        (torch.backends.cudnn.deterministic,
         torch.backends.cudnn.benchmark) = cudnn


@cuda
def test_fullgraph_compile_on_cuda_equals_eager():
    torch._dynamo.reset()
    eager = GHMCWAPLoss(C).cuda()
    module = GHMCWAPLoss(C).cuda()
    compiled = torch.compile(module, fullgraph=True, dynamic=False)
    gen = torch.Generator().manual_seed(2)
    for k in range(8):
        logits = (torch.randn(256, C, generator=gen) * 3).cuda()
        y = torch.randint(0, C, (256, ), generator=gen).cuda()
        z_e = logits.clone().requires_grad_(True)
        z_c = logits.clone().requires_grad_(True)
        a, b = eager(z_e, y), compiled(z_c, y)
        a.backward()
        b.backward()
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z_c.grad, z_e.grad, rtol=1e-5,
                                   atol=1e-6)
        if k in (2, 5):
            eager.update()
            module.update()
    torch.testing.assert_close(module.edges, eager.edges)
