from .group_accuracy import GroupAccuracy

__all__ = ['GroupAccuracy']
