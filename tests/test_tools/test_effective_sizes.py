"""tools/analysis/effective_sizes.py against the formulas of method.md §3
and Eq. 2, on a checkpoint made here."""
import json
import math
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmghm.models.losses import GHMCWAPLoss

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis', 'effective_sizes.py')


def _checkpoint(tmp_path, counts, density, **loss_args):
    loss = GHMCWAPLoss(num_classes=len(counts), num_bins=density.shape[1],
                       **loss_args)
    loss.ref_density.copy_(torch.as_tensor(density))
    state = {f'head.loss_module.{k}': v
             for k, v in loss.state_dict().items()}
    path = tmp_path / 'epoch_3.pth'
    torch.save(dict(meta=dict(epoch=3, mmghm_class_counts=list(counts)),
                    state_dict=state), path)
    return path


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.subprocess
def test_sizes_margins_and_slope_follow_the_formulas(tmp_path):
    rng = np.random.RandomState(0)
    counts = [400, 150, 90, 12]
    # Densities with empty bins (they add nothing to S) and one class whose
    # sum stays below 1 (S clamps at 1).
    density = rng.uniform(0.0, 40.0, size=(4, 5))
    density[1, [0, 3]] = 0.0
    density[3] = [0.2, 0.0, 0.1, 0.0, 0.0]
    alpha, gamma = 0.7, 0.5
    ckpt = _checkpoint(tmp_path, counts, density, alpha=alpha, gamma=gamma)
    out = tmp_path / 'sizes.json'
    proc = _run(ckpt, '--json', out)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())

    # The loss keeps its buffers in float32: the reference starts there too.
    stored = density.astype(np.float32).astype(np.float64)
    sizes = [max(1.0, sum(v ** alpha for v in row if v > 0))
             for row in stored]
    assert sizes[3] == 1.0
    np.testing.assert_allclose(res['effective_sizes'], sizes, rtol=1e-7)
    # The largest class is class 0: every other class's logit is lowered
    # by gamma * log(S_0 / S_c) when S_c < S_0 (Eq. 2), never raised.
    margins = [gamma * min(0.0, math.log(s / sizes[0])) for s in sizes]
    np.testing.assert_allclose(res['head_margins'], margins, rtol=1e-7)
    x = np.log(counts)
    y = np.log(sizes)
    assert res['slope_log_s_on_log_n'] == pytest.approx(
        np.polyfit(x, y, 1)[0], rel=1e-7)
    assert (res['alpha'], res['gamma'], res['margin']) == (
        pytest.approx(alpha), pytest.approx(gamma), 'one_sided')
    assert 'slope of log S on log n' in proc.stdout


@pytest.mark.subprocess
def test_checkpoint_without_class_counts_is_refused_by_name(tmp_path):
    ckpt = _checkpoint(tmp_path, [3, 1], np.ones((2, 3)))
    data = torch.load(ckpt, weights_only=False)
    del data['meta']['mmghm_class_counts']
    torch.save(data, ckpt)
    proc = _run(ckpt)
    assert proc.returncode != 0
    assert 'mmghm_class_counts' in proc.stderr
    assert 'ClassCountsHook' in proc.stderr
