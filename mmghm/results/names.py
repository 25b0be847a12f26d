"""Config names ``{method}_{backbone}_{schedule}_{data}`` and display names."""
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

#: Display names of the methods (config name prefixes), in table order.
METHOD_NAMES: 'OrderedDict[str, str]' = OrderedDict([
    ('softmax', 'Softmax'),
    ('class-balanced', 'Class Balanced'),
    ('focal', 'Focal'),
    ('ghmc', 'GHM-C'),
    ('effective-number', 'Effective Number'),
    ('equalization', 'Equalization'),
    ('seesaw', 'Seesaw'),
    ('seesaw-mmpretrain', 'Seesaw (MMPretrain)'),
    ('ldam-drw', 'LDAM-DRW'),
    ('balanced-softmax', 'Balanced Softmax'),
    ('softmax-la', 'Softmax + post-hoc logit adjustment'),
    ('softmax-cb-sampler', 'Softmax, class-balanced sampling'),
    ('softmax-sqrt-sampler', 'Softmax, square-root sampling'),
    ('softmax-pb-sampler', 'Softmax, progressively balanced sampling'),
    ('softmax-crt', 'Softmax + cRT'),
    ('softmax-lws', 'Softmax + LWS'),
    ('softmax-taunorm', 'Softmax + tau-norm'),
    ('balanced-softmax-crt', 'Balanced Softmax + cRT'),
    ('ghm-cwap-r', 'R (intra only, URA)'),
    ('ghm-cwap-a-ura', 'A^URA (inter only)'),
    ('ghm-cwap-a-aura', 'A^AURA (inter only)'),
    ('ghm-cwap-r-a-ura', 'R + A^URA'),
    ('ghm-cwap-literal', 'GHM-CWAP, literal Eq. 1 weight'),
    ('ghm-cwap', 'GHM-CWAP (R + A^AURA)'),
    ('ghm-cwap-crt', 'GHM-CWAP + cRT'),
    ('ghm-cwap-deferred', 'GHM-CWAP, deferred start (option)'),
    ('ghm-cwap-2sided', 'GHM-CWAP, two-sided margins (option)'),
])

#: Configs whose training is another method's, with extra logging only:
#: their runs count as that method's.
METHOD_ALIASES: Dict[str, str] = {'ghm-cwap-vis': 'ghm-cwap'}

#: Methods whose paper row is another method's (another implementation of
#: the same loss).
PAPER_METHOD: Dict[str, str] = {'seesaw-mmpretrain': 'seesaw'}

#: Display names of the data sets.
DATASET_NAMES: Dict[str, str] = {
    'cifar10-lt': 'CIFAR-10-LT',
    'cifar100-lt': 'CIFAR-100-LT',
    'tinyimagenet-lt': 'TinyImageNet-LT',
    'imagenet-lt': 'ImageNet-LT',
    'inat2017': 'iNaturalist 2017',
    'cifar10jpeg-lt': 'CIFAR-10-LT (JPEG copy)',
    'digits-lt': 'digits-LT (scikit-learn)',
}

#: Data sets the paper builds at one imbalance factor: only configs of that
#: construction sit beside its numbers (``imagenet-lt-if100`` is the paper's
#: random removal; ``imagenet-lt`` is Liu et al.'s lists, IF 256).
PAPER_IMBALANCE: Dict[str, int] = {'imagenet-lt': 100}


def is_paper_data(dataset: str, imbalance_factor: Optional[int]) -> bool:
    """Whether a config's data are built as the paper builds them."""
    if dataset in PAPER_IMBALANCE:
        return imbalance_factor == PAPER_IMBALANCE[dataset]
    return True


#: Data sets whose paper numbers are the reference for another data set.
PAPER_REFERENCE: Dict[str, str] = {'cifar10jpeg-lt': 'cifar10-lt'}

_NAME_RE = re.compile(r'^(?P<method>[a-z0-9-]+)_(?P<backbone>[a-z0-9-]+)_'
                      r'(?P<schedule>[a-z0-9-]+)_(?P<data>[a-z0-9-]+)$')
_DATA_RE = re.compile(r'^(?P<dataset>.+?)(?:-if(?P<imb>\d+))?$')


@dataclass(frozen=True)
class ConfigName:
    """The parts of a config name ``{method}_{backbone}_{schedule}_{data}``.

    ``imbalance_factor`` is None for data without ``-if<N>`` (ImageNet-LT,
    iNaturalist). ``method`` and ``name`` have :data:`METHOD_ALIASES`
    applied.
    """
    name: str
    method: str
    backbone: str
    schedule: str
    dataset: str
    imbalance_factor: Optional[int]


def parse_config_name(name: str) -> ConfigName:
    """Split a config name (with or without ``.py`` / a folder) into parts.

    Raises:
        ValueError: if the name does not follow the convention.
    """
    stem = osp.splitext(osp.basename(name))[0]
    m = _NAME_RE.match(stem)
    if m is None:
        raise ValueError(
            f'config name {stem!r} does not follow '
            '{method}_{backbone}_{schedule}_{data}, e.g. '
            'ghm-cwap_resnet32_200e_cifar10-lt-if100.')
    d = _DATA_RE.match(m['data'])
    imb = int(d['imb']) if d['imb'] is not None else None
    method = METHOD_ALIASES.get(m['method'], m['method'])
    # The name runs are grouped under: an alias counts as its method.
    name = f"{method}_{m['backbone']}_{m['schedule']}_{m['data']}"
    return ConfigName(name, method, m['backbone'], m['schedule'],
                      d['dataset'], imb)


def method_rank(method: str) -> Tuple[int, str]:
    """Sort key: the order of :data:`METHOD_NAMES`, unknown methods last."""
    names = list(METHOD_NAMES)
    return (names.index(method) if method in names else len(names), method)


def method_label(method: str) -> str:
    """Display name of a method (the method itself when unknown)."""
    return METHOD_NAMES.get(method, method)
