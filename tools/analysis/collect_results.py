"""Results: export runs into result files, render README tables, or print
the paper's layout. The work is done by :mod:`mmghm.results`.

Export work dirs of ``tools/train.py`` (and the ``tools/test.py`` runs of
their checkpoints: one checkpoint is one run) into
``results/<suite>/<config>/seed<k>.json``::

    python tools/analysis/collect_results.py export work_dirs/ghm_demo \\
        work_dirs/ce_demo --suite digits-lt_demo_cpu

Regenerate every results table in README.md, configs/*/README.md and
docs/*.md from ``results/`` (``--check``: exit 1 if any is stale)::

    python tools/analysis/collect_results.py readmes
    python tools/analysis/collect_results.py readmes --check

Print Tables 1-3 of the paper with ours beside the paper's numbers, from
work dirs exported in memory (nothing written; the default without a
command)::

    python tools/analysis/collect_results.py tables work_dirs/ --out t.md
"""
import os.path as osp
import sys

from mmghm.results.cli import main

#: The repository (or installed ``mmghm/.mim``) root: tools/analysis/../..
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

if __name__ == '__main__':
    sys.exit(main(root=ROOT))
