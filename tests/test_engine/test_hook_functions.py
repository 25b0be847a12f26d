"""The functions mmghm's hooks call, which training loops of one's own (the
reproduction harness, mmghm.engine.fast_train) call too: class counts,
the loss epoch, when AURA updates, finding losses in a model."""
import pytest
import torch.nn as nn

from mmghm.engine.hooks.aura_hook import aura_due, find_losses
from mmghm.engine.hooks.class_counts_hook import apply_class_counts
from mmghm.engine.hooks.loss_epoch_hook import set_loss_epoch


class _Stateful(nn.Module):
    """Takes class counts and the epoch, as class-count and DRW losses do."""

    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.counts, self.epoch = None, None

    def set_class_counts(self, counts) -> None:
        if len(counts) != self.num_classes:
            raise ValueError(f'{len(counts)} counts for {self.num_classes} '
                             'classes')
        self.counts = list(counts)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class _Metric:

    def __init__(self) -> None:
        self.counts = None

    def set_class_counts(self, counts) -> None:
        self.counts = list(counts)


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3), _Stateful(),
                         nn.Sequential(nn.ReLU(), _Stateful()))


def test_apply_class_counts_reaches_the_metrics_and_every_module():
    model, metric = _model(), _Metric()
    apply_class_counts(model, [5, 3, 1], [metric, object()])
    assert metric.counts == [5, 3, 1]
    assert model[1].counts == [5, 3, 1] and model[2][1].counts == [5, 3, 1]
    other = _Metric()
    apply_class_counts(None, [2, 1, 1], [other])  # the metrics only
    assert other.counts == [2, 1, 1] and model[1].counts == [5, 3, 1]


def test_apply_class_counts_names_the_module_that_refuses_them():
    model = _model()
    model[2][1] = _Stateful(num_classes=4)
    with pytest.raises(ValueError, match=r'training set has 3 classes, '
                       r'which does not fit _Stateful at model\.2\.1: 3 '
                       'counts for 4 classes'):
        apply_class_counts(model, [5, 3, 1])


def test_set_loss_epoch_reaches_every_module():
    model = _model()
    set_loss_epoch(model, 4)
    assert model[1].epoch == 4 and model[2][1].epoch == 4


@pytest.mark.parametrize('by_epoch,interval,epochs,iters,due', [
    (True, 1, 1, None, True),
    (True, 2, 1, None, False),
    (True, 2, 4, None, True),
    (True, 1, None, 3, False),  # by epoch: never after an iteration
    (False, 3, None, 3, True),
    (False, 3, None, 4, False),
    (False, 1, 2, None, False),  # by iteration: never at an epoch end
])
def test_aura_due_after_every_interval_th_epoch_or_iteration(
        by_epoch, interval, epochs, iters, due):
    assert aura_due(by_epoch, interval, epochs_done=epochs,
                    iters_done=iters) is due


def test_find_losses_names_the_modules_of_the_given_types():
    model = _model()
    assert list(find_losses(model, _Stateful)) == ['1', '2.1']
    assert list(find_losses(model, (nn.Linear, nn.ReLU))) == ['0', '2.0']
    assert find_losses(model, _Stateful)['2.1'] is model[2][1]
