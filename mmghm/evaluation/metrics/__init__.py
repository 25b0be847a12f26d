__all__ = []
from .group_accuracy import GroupAccuracy  # noqa: F401

__all__ += ['GroupAccuracy']
