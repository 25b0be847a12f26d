"""``python -m mmghm.engine.fast_train``: the harness's command line (the
same as ``tools/analysis/reproduce_cifar_lt.py``)."""
import sys

from .cli import main

if __name__ == '__main__':
    main(sys.argv[1:])
    sys.exit(0)
