"""The per-class accuracy picture (``results:class-accuracy`` blocks):
drawn from result files, kept current by the README check."""
import json
from pathlib import Path

import numpy as np
import pytest
from fake_runs import write_result

from mmghm.results.figures import (class_accuracy_series, png_digest,
                                   series_digest)
from mmghm.results.readme import check_files, update_file

SUITE = 'cifar10jpeg-lt-if100_30e_cpu'
CE = 'configs/softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py'
GHM = 'configs/ghm_cwap/ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py'
BS = ('configs/balanced_softmax/'
      'balanced-softmax_resnet32_30e_cifar10jpeg-lt-if100.py')
#: CIFAR-10-LT IF 100's training counts, not sorted (the picture sorts).
COUNTS = [50, 5000, 2997, 1796, 1077, 645, 387, 232, 139, 83]


def _write(root, config, seed, accuracy, counts=COUNTS):
    path = write_result(root, SUITE, config, seed, {
        'accuracy/top1': float(np.mean(accuracy)),
        'group_accuracy/many': 90.0 + seed,
        'group_accuracy/medium': 60.0,
        'group_accuracy/few': 30.0 - seed})
    data = json.loads(path.read_text())
    data['per_class'] = dict(accuracy=list(accuracy), train_counts=counts)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def repo(tmp_path):
    """A repository with results for CE (2 seeds, per-class), GHM-CWAP
    (1 seed, per-class) and Balanced Softmax (no per-class), and a README
    with one picture block."""
    results = tmp_path / 'results'
    rng = np.random.RandomState(0)
    acc = {(c, s): np.round(rng.uniform(0, 100, 10), 2).tolist()
           for c, s in ((CE, 0), (CE, 1), (GHM, 0))}
    for (config, seed), a in acc.items():
        _write(results, config, seed, a)
    write_result(results, SUITE, BS, 0, {'accuracy/top1': 70.0})
    configs = ','.join(Path(c).stem for c in (GHM, CE, BS))
    (tmp_path / 'README.md').write_text(
        'text\n<!-- results:class-accuracy suite=' + SUITE +
        ' image=docs/images/per_class.png configs=' + configs + ' -->\n'
        '<!-- /results -->\n')
    (tmp_path / 'docs' / 'images').mkdir(parents=True)
    return tmp_path, acc


def test_each_line_is_the_mean_over_seeds_in_the_blocks_order(repo):
    root, acc = repo
    series = class_accuracy_series(
        str(root / 'results'), SUITE,
        [Path(GHM).stem, Path(CE).stem, Path(BS).stem])
    # Balanced Softmax has no per-class accuracies: not drawn
    assert [s['config'] for s in series] == [Path(GHM).stem, Path(CE).stem]
    assert series[0]['seeds'] == [0] and series[1]['seeds'] == [0, 1]
    expected = [(a + b) / 2 for a, b in zip(acc[CE, 0], acc[CE, 1])]
    np.testing.assert_allclose(series[1]['accuracy'], expected, atol=1e-6)
    assert series[1]['groups'] == {'many': 90.5, 'medium': 60.0,
                                   'few': 29.5}
    assert series[1]['counts'] == COUNTS


def test_readmes_draws_the_png_and_the_check_keeps_it_current(repo):
    root, acc = repo
    readme, png = root / 'README.md', root / 'docs/images/per_class.png'
    assert check_files(str(root)) == ['README.md']
    assert update_file(str(readme), str(root)) is True
    text = readme.read_text()
    assert '![Per-class top-1 accuracy' in text
    assert '(docs/images/per_class.png)' in text
    assert ('GHM-CWAP (R + A^AURA) (seed 0); Softmax (seeds 0, 1)' in text)
    assert 'Not drawn (no per-class accuracies in their result files): ' \
        'Balanced Softmax.' in text
    series = class_accuracy_series(str(root / 'results'), SUITE,
                                   [Path(GHM).stem, Path(CE).stem])
    digest = series_digest(series)
    assert f'Data digest `{digest}`' in text
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert png_digest(str(png)) == digest
    assert check_files(str(root)) == []
    # A changed result file makes the README and the picture stale...
    _write(root / 'results', GHM, 0, [10.0] * 10)
    assert check_files(str(root)) == ['README.md']
    update_file(str(readme), str(root))
    assert png_digest(str(png)) != digest
    assert check_files(str(root)) == []
    # ...and so does a picture drawn from other numbers (the text alone is
    # current): a PNG is never taken on trust.
    current = png_digest(str(png))
    for damage in (b'not a picture drawn by mmghm', None):
        if damage is None:
            png.unlink()
        else:
            png.write_bytes(damage)
        assert png_digest(str(png)) is None
        assert check_files(str(root)) == ['README.md']
        update_file(str(readme), str(root))
        assert png_digest(str(png)) == current


def test_runs_of_other_training_sets_are_refused(repo):
    root, _ = repo
    _write(root / 'results', GHM, 0, [50.0] * 10, counts=[100] * 10)
    with pytest.raises(ValueError, match='other class counts'):
        class_accuracy_series(str(root / 'results'), SUITE)


def test_an_image_outside_the_repository_is_refused(repo):
    root, _ = repo
    readme = root / 'README.md'
    readme.write_text(readme.read_text().replace(
        'image=docs/images/per_class.png', 'image=../outside.png'))
    with pytest.raises(ValueError, match='inside the repository'):
        update_file(str(readme), str(root))
    assert not (root.parent / 'outside.png').exists()
