"""Fixtures for the data set tests: the real CIFAR-10 JPEGs, unpacked once."""
import os
from pathlib import Path

import pytest

from mmghm.datasets.utils import (CIFAR10_ZIP_ENV, CIFAR10_ZIP_NAME,
                                  default_cache_dir, prepare_cifar10_jpeg)

# ../shared/data/ beside the repository root, on developer machines and CI.
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_ZIP = REPO_ROOT.parent / 'shared' / 'data' / CIFAR10_ZIP_NAME


@pytest.fixture(scope='session')
def cifar10_jpeg_root() -> Path:
    """The unpacked real CIFAR-10 (``train/<class>/*.jpg``, ``test/...``).

    Unpacked into ``$MMGHM_CACHE_DIR`` or the temp dir and reused across
    sessions; skips when the zip is absent.
    """
    zip_path = Path(os.environ.get(CIFAR10_ZIP_ENV, SHARED_ZIP))
    if not zip_path.is_file():
        pytest.skip(f'real CIFAR-10 not available: {zip_path} not found '
                    f'(set ${CIFAR10_ZIP_ENV} to cifar10-jpeg.zip)')
    return prepare_cifar10_jpeg(default_cache_dir(), zip_path)
