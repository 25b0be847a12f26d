"""The repository stands alone: no library code or documentation points
outside it, and every relative link in the documentation resolves."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / 'README.md', *REPO.glob('docs/**/*.md'),
               *REPO.glob('configs/**/README.md')])
# A path into a folder beside the repository ("../shared/...", or a
# 'shared' path component built in code).
OUTSIDE = re.compile(r"\.\./shared|['\"]shared['\"]")
LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')


def test_library_code_knows_nothing_beside_the_repository():
    offenders = [str(p.relative_to(REPO)) for p in REPO.glob('mmghm/**/*.py')
                 if OUTSIDE.search(p.read_text(encoding='utf-8'))]
    assert offenders == []


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_documentation_links_resolve_inside_the_repository(doc):
    text = doc.read_text(encoding='utf-8')
    assert not OUTSIDE.search(text), 'points beside the repository'
    for target in LINK.findall(text):
        if re.match(r'[a-z]+://', target):
            continue
        resolved = (doc.parent / target).resolve()
        assert resolved.exists(), f'{target} (from {doc.name})'
        assert REPO in resolved.parents or resolved == REPO, target
