"""Fixtures of the results tests: the paper's text, fake Runner work dirs."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The paper's text beside the repository (developer machines and CI).
PAPER_TEXT = REPO_ROOT.parent / 'shared' / 'paper' / '000_173218c04a7fad39.txt'
PAPER_ENV = 'MMGHM_PAPER_TEXT'


@pytest.fixture(scope='session')
def paper_text() -> str:
    """The GHM-CWAP paper as text; skips where it is not available."""
    path = Path(os.environ.get(PAPER_ENV, PAPER_TEXT))
    if not path.is_file():
        pytest.skip(f"the paper's text is not available: {path} not found "
                    f'(set ${PAPER_ENV} to it)')
    return path.read_text(encoding='utf-8')
