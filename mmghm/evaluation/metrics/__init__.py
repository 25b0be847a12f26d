__all__ = []
from .group_accuracy import GroupAccuracy  # noqa: F401
