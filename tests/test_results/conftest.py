"""Fixtures of the results tests: the paper's text, the committed 30-epoch
CIFAR-10-LT results."""
import os
from pathlib import Path

import pytest

from mmghm.results.files import load_run_results
from mmghm.results.tables import Stat, group_results, metric_value

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The paper's text beside the repository (developer machines and CI).
PAPER_TEXT = REPO_ROOT.parent / 'shared' / 'paper' / '000_173218c04a7fad39.txt'
PAPER_ENV = 'MMGHM_PAPER_TEXT'
#: The suite of README's comparison.
SUITE = 'cifar10jpeg-lt-if100_30e_cpu'


@pytest.fixture(scope='session')
def paper_text() -> str:
    """The GHM-CWAP paper as text; skips where it is not available."""
    path = Path(os.environ.get(PAPER_ENV, PAPER_TEXT))
    if not path.is_file():
        pytest.skip(f"the paper's text is not available: {path} not found "
                    f'(set ${PAPER_ENV} to it)')
    return path.read_text(encoding='utf-8')


@pytest.fixture(scope='session')
def committed_results():
    """The committed run results of README's 30-epoch suite."""
    return load_run_results(str(REPO_ROOT / 'results'), SUITE)


@pytest.fixture(scope='session')
def suite(committed_results):
    """{method: {metric: Stat over its seeds}}, methods by their config
    name's first part (``softmax-crt``, ``ghm-cwap``...)."""
    stats = {}
    for (stem, variant), runs in group_results(committed_results).items():
        if variant is None:
            stats[stem.split('_')[0]] = {
                m: Stat([metric_value(r.data['metrics'], m) for r in runs])
                for m in ('top1', 'many', 'medium', 'few')}
    return stats
