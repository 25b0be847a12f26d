"""Write the experiment configs of the paper (Tables 1-3 and extras).

One config per cell of the paper's tables, each a few lines over the bases
in ``configs/_base_``, named ``{method}_{backbone}_{schedule}_{data}.py``
after MMPretrain's convention, plus each folder's ``metafile.yml`` and the
top-level ``model-index.yml``. The config files are the source of truth
users run; this script only keeps the grid complete and consistent
(``tests/test_configs.py`` checks that the committed files equal its
output, so a hand edit must be made here).

    python tools/misc/generate_configs.py            # (re)write
    python tools/misc/generate_configs.py --check    # exit 1 if stale

``--readmes`` also (re)writes the folders' README.md skeletons with the
paper's numbers (off by default: READMEs carry measured results by hand).
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, Dict, List, Optional, Tuple, Union

from mmghm.utils.package_path import repo_root

ROOT = repo_root()
CONFIGS = osp.join(ROOT, 'configs')


def _paper_numbers() -> SimpleNamespace:
    """The paper's numbers (``mmghm/results/paper_tables.yml``) and the
    config-name parser of :mod:`mmghm.results`, under the names used here."""
    from mmghm.results import names, paper
    tables = paper.load_paper_tables()
    return SimpleNamespace(
        TABLE1_IFS=tables.table1_ifs, PAPER_TABLE1=tables.table1,
        PAPER_TABLE2=tables.table2, PAPER_TABLE3=tables.table3,
        PAPER_REFERENCE=names.PAPER_REFERENCE,
        parse_config_name=names.parse_config_name)


cr = _paper_numbers()

# --------------------------------------------------------------------------
# Data: data name -> bases, classes, schedule.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """One data set + backbone + schedule combination."""
    name: str  # the {data} part of the config name
    model_base: str
    data_base: str
    schedule_base: str
    num_classes: int
    backbone: str  # the {backbone} part
    schedule: str  # the {schedule} part
    epochs: int
    batch_size: int  # total over GPUs
    drw_epoch: int  # LDAM-DRW's switch, 80% of training
    title: str
    backbone_override: Optional[str] = None  # extra model.backbone keys


def _cifar_like(prefix: str, model: str, classes: int,
                title: str) -> List[Data]:
    return [
        Data(f'{prefix}-lt-if{imb}', model, f'{prefix}_lt_if{imb}',
             'cifar_lt_200e', classes, 'resnet32', '200e', 200, 128, 160,
             f'{title}, IF {imb}') for imb in cr.TABLE1_IFS
    ]


#: The 200-epoch schedule on the CIFAR-10 JPEG copy (the data GPU machines
#: can carry: tools/analysis/pack_cifar_lt.py), every Table 1 imbalance
#: factor. Kept apart from DATA, whose keys are data names, because
#: ``cifar10jpeg-lt-if100`` also names the 30-epoch CPU comparison.
JPEG_200E: List[Data] = _cifar_like('cifar10jpeg', 'resnet32_cifar10', 10,
                                    'CIFAR-10-LT (JPEG copy)')


DATA: Dict[str, Data] = OrderedDict(
    (d.name, d) for d in
    _cifar_like('cifar10', 'resnet32_cifar10', 10, 'CIFAR-10-LT') +
    _cifar_like('cifar100', 'resnet32_cifar100', 100, 'CIFAR-100-LT') +
    _cifar_like('tinyimagenet', 'resnet32_tinyimagenet', 200,
                'TinyImageNet-LT') + [
        Data('imagenet-lt', 'resnet50_imagenet_lt', 'imagenet_lt',
             'imagenet_lt_90e', 1000, 'resnet50', '90e', 90, 512, 72,
             "ImageNet-LT, Liu et al.'s lists (IF 256, not the paper's "
             'construction)'),
        # The paper's construction: random removal from ImageNet's train
        # set, IF 100 (Tables 2-3).
        Data('imagenet-lt-if100', 'resnet50_imagenet_lt', 'imagenet_lt_if100',
             'imagenet_lt_90e', 1000, 'resnet50', '90e', 90, 512, 72,
             "ImageNet-LT, the paper's construction (random removal from "
             'ImageNet-2012 train, IF 100)'),
        Data('inat2017', 'resnet50_inat2017', 'inat2017', 'inat_90e', 5089,
             'resnet50', '90e', 90, 512, 72, 'iNaturalist 2017'),
        # CPU-sized schedule on the real CIFAR-10 JPEG copy.
        Data('cifar10jpeg-lt-if100', 'resnet32_cifar10',
             'cifar10jpeg_lt_if100', 'cifar_lt_30e', 10, 'resnet32', '30e',
             30, 128, 24, 'CIFAR-10-LT (JPEG copy), IF 100'),
        # README demo: no download, minutes on 2 CPU cores.
        Data('digits-lt', 'resnet32_cifar10', 'digits_lt', 'digits_demo', 10,
             'resnet20', 'demo', 30, 32, 24,
             'scikit-learn digits, long-tailed (IF 10)',
             backbone_override='depth=20'),
    ])

# --------------------------------------------------------------------------
# Methods: config prefix -> folder, loss, extras.
# --------------------------------------------------------------------------

LossFn = Callable[[Data], Optional[List[Tuple[str, str]]]]


@dataclass(frozen=True)
class Method:
    """A method: its folder, the head loss it sets, and how to explain it."""
    name: str  # the {method} part of the config name
    folder: str
    comment: Union[str, Callable[[Data], str]]  # str.format(d=data)
    loss: LossFn  # -> [(key, python literal)] of the loss dict, or None
    head: Optional[List[Tuple[str, str]]] = None  # extra head keys

    def describe(self, data: Data) -> str:
        """The method's comment for one data set."""
        text = self.comment(data) if callable(self.comment) else \
            self.comment.format(d=data)
        return text + DATA_NOTES.get((self.name, data.name), '')


def _ghm_cwap(**switches: bool) -> LossFn:

    def loss(data: Data) -> List[Tuple[str, str]]:
        items = [('type', "'mmghm.GHMCWAPLoss'"),
                 ('num_classes', str(data.num_classes)), ('num_bins', '30'),
                 ('alpha', '0.9'), ('gamma', '0.8')]
        items += [(k, repr(v)) for k, v in switches.items()]
        return items

    return loss


def _counts_loss(type_: str, *extra: Tuple[str, str]) -> LossFn:
    return lambda data: [('type', f"'{type_}'"),
                         ('num_classes', str(data.num_classes)), *extra]


def _large_scale(data: Data) -> bool:
    """ImageNet-LT (either construction) and iNaturalist."""
    return data.name.startswith(('imagenet-lt', 'inat'))


def _effective_number_loss(data: Data) -> List[Tuple[str, str]]:
    if _large_scale(data):
        # Cui et al.'s own setting for their large-scale experiments
        # (ILSVRC 2012, iNaturalist 2017/2018): class-balanced focal loss.
        return _counts_loss('mmghm.EffectiveNumberLoss', ('beta', '0.999'),
                            ('loss_type', "'focal'"), ('gamma', '0.5'))(data)
    return _counts_loss('mmghm.EffectiveNumberLoss', ('beta', '0.9999'),
                        ('loss_type', "'softmax'"))(data)


def _effective_number_comment(data: Data) -> str:
    if _large_scale(data):
        return ('Effective Number (class-balanced loss, Cui et al., CVPR '
                '2019) with the authors\' own setting for their large-scale '
                'experiments (ILSVRC 2012, iNaturalist 2017/2018): the '
                'class-balanced sigmoid focal loss (their Eq. 9), weights '
                '(1 - beta) / (1 - beta^n) with beta 0.999, gamma 0.5. The '
                'paper says it uses the authors\' settings.')
    return ('Effective Number (class-balanced loss, Cui et al., CVPR 2019): '
            'softmax cross-entropy weighted by (1 - beta) / (1 - beta^n), '
            'beta 0.9999, at every imbalance factor. Cui et al. tune the '
            'loss (softmax, sigmoid, focal) and beta per CIFAR data set and '
            'report no IF 500; this one setting is our choice.')


#: (method, data) -> a sentence appended to the config's comment.
DATA_NOTES: Dict[Tuple[str, str], str] = {
    (m, f'tinyimagenet-lt-if{imb}'): (
        ' Note: the paper\'s Table 1 prints identical TinyImageNet-LT rows '
        'for Class Balanced and Effective Number (30.90 / 39.48 / 54.17 / '
        '63.06 at IF 500 / 100 / 10 / 1), most likely a copy error; both '
        'are recorded as printed.')
    for m in ('class-balanced', 'effective-number')
    for imb in (500, 100, 10, 1)
}


METHODS: Dict[str, Method] = OrderedDict((m.name, m) for m in [
    Method('softmax', 'softmax',
           'Softmax cross-entropy (MMPretrain CrossEntropyLoss, the base '
           "model's loss).", lambda data: None),
    Method('class-balanced', 'class_balanced',
           'Class Balanced: cross-entropy weighted by inverse class '
           'frequency, weights normalised to sum to C.',
           _counts_loss('mmghm.ClassBalancedLoss')),
    Method('focal', 'focal',
           'Focal loss (Lin et al., ICCV 2017), softmax form, gamma 2, no '
           'alpha. Lin et al. use the sigmoid form with alpha 0.25 for dense '
           'detection; the paper does not say which form it compares, and '
           'the softmax form without a class weight is our choice for '
           'single-label classification.',
           lambda data: [('type', "'mmghm.SoftmaxFocalLoss'"),
                         ('num_classes', str(data.num_classes)),
                         ('gamma', '2.0')]),
    Method('ghmc', 'ghmc',
           'GHM-C (Li et al., AAAI 2019): sigmoid form, 30 bins, momentum '
           '0.75.', lambda data: [('type', "'mmghm.GHMCLoss'"),
                                  ('bins', '30'), ('momentum', '0.75'),
                                  ('num_classes', str(data.num_classes))]),
    Method('effective-number', 'effective_number',
           _effective_number_comment, _effective_number_loss),
    Method('equalization', 'equalization',
           'Softmax equalization loss (Tan et al., CVPR 2020): lambda 5e-3, '
           'gamma 0.9.',
           _counts_loss('mmghm.EqualizationLoss', ('lambda_', '5e-3'),
                        ('gamma', '0.9'))),
    Method('seesaw', 'seesaw',
           'Seesaw loss (Wang et al., CVPR 2021): p 0.8, q 2.0; mmghm\'s '
           'DistSeesawLoss (class counts summed over GPUs, vectorised), on '
           'the plain linear classifier. Wang et al. also normalise the '
           'classifier (cosine logits with a temperature) for instance '
           'segmentation; the paper does not say, and the plain linear head '
           'is our choice (mmghm.NormedLinearClsHead gives the normalised '
           'one).',
           _counts_loss('mmghm.DistSeesawLoss', ('p', '0.8'), ('q', '2.0'))),
    Method('seesaw-mmpretrain', 'seesaw',
           "Seesaw loss, MMPretrain's own SeesawLoss: p 0.8, q 2.0, plain "
           'linear classifier.',
           _counts_loss('SeesawLoss', ('p', '0.8'), ('q', '2.0'))),
    Method('ldam-drw', 'ldam_drw',
           'LDAM-DRW (Cao et al., NeurIPS 2019): cosine classifier, LDAM '
           'margins (max 0.5, scale 30), effective-number re-weighting '
           '(beta 0.9999) from 80% of training (epoch {d.drw_epoch} of '
           '{d.epochs}).',
           lambda data: [('type', "'mmghm.LDAMLoss'"),
                         ('num_classes', str(data.num_classes)),
                         ('max_m', '0.5'), ('s', '30.0'),
                         ('drw_start_epoch', str(data.drw_epoch)),
                         ('drw_beta', '0.9999')],
           head=[('type', "'mmghm.NormedLinearClsHead'"),
                 ('scale', '1.0')]),
    Method('balanced-softmax', 'balanced_softmax',
           'Balanced Softmax (Ren et al., NeurIPS 2020) = logit-adjusted '
           'loss with tau 1 (Menon et al., ICLR 2021).',
           _counts_loss('mmghm.BalancedSoftmaxLoss', ('tau', '1.0'))),
    Method('softmax-la', 'logit_adjustment',
           'Cross-entropy training (as softmax_*), post-hoc logit '
           'adjustment at prediction (Menon et al., ICLR 2021): argmax z_c - '
           'tau * log n_c with tau 1 (mmghm.LogitAdjustedLinearClsHead). A '
           'softmax_* checkpoint can be tested with this config as it is.',
           lambda data: None,
           head=[('type', "'mmghm.LogitAdjustedLinearClsHead'"),
                 ('tau', '1.0')]),
    Method('ghm-cwap', 'ghm_cwap',
           'GHM-CWAP (Eq. 1-3, Algorithm 1): R + A^AURA, alpha 0.9, N 30, '
           'gamma 0.8.', _ghm_cwap()),
    Method('ghm-cwap-r', 'ghm_cwap',
           'Table 3 ablation "R": intra-category weights only, uniform bins '
           '(URA; AURA belongs to the inter-category term in the paper).',
           _ghm_cwap(intra=True, inter=False, adaptive=False)),
    Method('ghm-cwap-a-ura', 'ghm_cwap',
           'Table 3 ablation "A^URA": inter-category margins only, uniform '
           'bins.', _ghm_cwap(intra=False, inter=True, adaptive=False)),
    Method('ghm-cwap-r-a-ura', 'ghm_cwap',
           'Table 3 ablation "R + A^URA": weights and margins, uniform bins.',
           _ghm_cwap(intra=True, inter=True, adaptive=False)),
    Method('ghm-cwap-a-aura', 'ghm_cwap',
           'Margins only with AURA bins (intra weights off): not in the '
           "paper's tables.",
           _ghm_cwap(intra=False, inter=True, adaptive=True)),
    Method('ghm-cwap-literal', 'ghm_cwap',
           "GHM-CWAP with the paper's literal Eq. 1 weight S_c / v^alpha "
           "(intra_weight='paper'; docs/method.md, section 4).",
           lambda data: _ghm_cwap()(data) + [('intra_weight', "'paper'")]),
    # Options beyond the paper (docs/method.md, "Options beyond the paper").
    Method('ghm-cwap-2sided', 'ghm_cwap',
           'Not the paper\'s: two-sided margins gamma * log(S_n / S_m) for '
           'every class n (Balanced Softmax\'s logit adjustment with the '
           "effective sizes S), gamma = 1 (margin='two_sided').",
           lambda data: [(k, '1.0' if k == 'gamma' else v)
                         for k, v in _ghm_cwap()(data)] +
           [('margin', "'two_sided'")]),
    Method('ghm-cwap-deferred', 'ghm_cwap',
           'Not the paper\'s: plain cross-entropy for the first 80% of '
           'training, GHM-CWAP from there (start_epoch, as LDAM-DRW defers '
           'its re-weighting); the histograms are counted throughout.',
           lambda data: _ghm_cwap()(data) + [
               ('start_epoch', str(_deferred_start(data)))]),
])


def _deferred_start(data: Data) -> int:
    """80% of the schedule: LDAM-DRW's deferral point (160 of 200)."""
    return {'30e': 24, '200e': 160}[data.schedule]


TABLE1_METHODS = ('softmax', 'class-balanced', 'focal', 'ghmc',
                  'effective-number', 'equalization', 'seesaw', 'ghm-cwap')
TABLE2_METHODS = ('softmax', 'class-balanced', 'focal', 'effective-number',
                  'seesaw', 'ghm-cwap')
TABLE3_METHODS = ('ghm-cwap-r', 'ghm-cwap-a-ura', 'ghm-cwap-r-a-ura')
EXTRA_METHODS = ('ldam-drw', 'balanced-softmax', 'softmax-la')
CPU_METHODS = ('softmax', 'class-balanced', 'focal', 'ghmc',
               'effective-number', 'equalization', 'seesaw',
               'seesaw-mmpretrain', 'ldam-drw', 'balanced-softmax',
               'softmax-la', 'ghm-cwap', 'ghm-cwap-r', 'ghm-cwap-a-ura',
               'ghm-cwap-r-a-ura',
               'ghm-cwap-a-aura', 'ghm-cwap-literal', 'ghm-cwap-2sided',
               'ghm-cwap-deferred')
DEMO_METHODS = ('softmax', 'ghm-cwap')


def grid() -> List[Tuple[Method, Data]]:
    """Every (method, data) pair that gets a config, in a stable order."""
    pairs = []
    table1_data = [d for d in DATA.values() if d.schedule == '200e']
    pairs += [(m, d) for d in table1_data for m in TABLE1_METHODS]
    pairs += [(m, DATA[d]) for d in ('imagenet-lt', 'inat2017')
              for m in TABLE2_METHODS]
    pairs += [(m, DATA['imagenet-lt']) for m in TABLE3_METHODS]
    # Tables 2-3 on the paper's own ImageNet-LT construction.
    pairs += [(m, DATA['imagenet-lt-if100'])
              for m in TABLE2_METHODS + TABLE3_METHODS]
    pairs += [(m, d) for d in table1_data
              if d.name.startswith(('cifar10-', 'cifar100-'))
              for m in EXTRA_METHODS]
    pairs += [(m, DATA['cifar10jpeg-lt-if100']) for m in CPU_METHODS]
    pairs += [(m, DATA['digits-lt']) for m in DEMO_METHODS]
    # The Table 1 CIFAR-10 block on the JPEG copy, for GPU runs of the
    # reproduction harness (tools/analysis/reproduce_cifar_lt.py).
    pairs += [(m, d) for d in JPEG_200E
              for m in TABLE1_METHODS + EXTRA_METHODS]
    return [(METHODS[m], d) for m, d in pairs]


def config_name(method: Method, data: Data) -> str:
    return f'{method.name}_{data.backbone}_{data.schedule}_{data.name}'


def _dict_literal(items: List[Tuple[str, str]], indent: int) -> str:
    pad = ' ' * indent
    body = ''.join(f'{pad}    {k}={v},\n' for k, v in items)
    return 'dict(\n' + body[:-2] + ')'


def render_config(method: Method, data: Data) -> str:
    """The text of one config file."""
    bases = [f'../_base_/models/{data.model_base}.py',
             f'../_base_/datasets/{data.data_base}.py',
             f'../_base_/schedules/{data.schedule_base}.py',
             '../_base_/default_runtime.py']
    lines = ['_base_ = [']
    lines += [f"    '{b}'," for b in bases]
    lines += [']', '']
    # Wrap the data's title and the method's comment at 79 columns.
    for text in (f'{data.title}.', method.describe(data)):
        line = '#'
        for word in text.split():
            if len(line) + 1 + len(word) > 79:
                lines.append(line)
                line = '#'
            line += ' ' + word
        lines.append(line)
    model_items = []
    if data.backbone_override:
        model_items.append(('backbone', f'dict({data.backbone_override})'))
    loss = method.loss(data)
    head_items = list(method.head or [])
    if loss is not None:
        head_items.append(('loss', _dict_literal(loss, 8)))
    if head_items:
        model_items.append(('head', _dict_literal(head_items, 4)))
    if model_items:
        lines.append('model = ' + _dict_literal(model_items, 0))
    extra = EXTRA_SETTINGS.get(config_name(method, data))
    if extra:
        lines += [''] + extra.rstrip('\n').split('\n')
    return '\n'.join(lines) + '\n'


#: The demos' 18 iterations an epoch: progress several times an epoch.
DEMO_LOGGING = (
    '# 18 iterations an epoch: log progress every 5 (and at epoch end).\n'
    'default_hooks = dict(logger=dict(interval=5))\n')

#: Config name -> settings appended to the generated config.
EXTRA_SETTINGS: Dict[str, str] = {
    'softmax_resnet20_demo_digits-lt': DEMO_LOGGING,
    'ghm-cwap_resnet20_demo_digits-lt': DEMO_LOGGING + '\n' + (
        "# The main job also leaves the paper's Fig. 2: GradHistVisHook\n"
        '# dumps the histograms at every AURA update (work_dir/grad_hist/),\n'
        '# and RunSummaryHook draws Fig. 2 from them at the end of training.\n'
        'custom_hooks = [\n'
        "    dict(type='mmghm.ClassCountsHook'),\n"
        "    dict(type='mmghm.AURAHook', by_epoch=True, interval=1),\n"
        "    dict(type='mmghm.LossEpochHook'),\n"
        "    dict(type='mmghm.ExactResumeHook'),\n"
        "    dict(type='mmghm.GradHistVisHook'),\n"
        ']\n'),
}


# --------------------------------------------------------------------------
# Metafiles and READMEs.
# --------------------------------------------------------------------------

#: Folder -> (collection name, paper title, paper URL or '').
COLLECTIONS: Dict[str, Tuple[str, str, str]] = OrderedDict([
    ('softmax', ('Softmax', 'Deep Residual Learning for Image Recognition '
                 '(the plain softmax cross-entropy baseline)',
                 'https://arxiv.org/abs/1512.03385')),
    ('class_balanced', ('Class Balanced',
                        'Inverse-frequency class weighting (baseline of the '
                        'GHM-CWAP paper)', '')),
    ('focal', ('Focal', 'Focal Loss for Dense Object Detection',
               'https://arxiv.org/abs/1708.02002')),
    ('ghmc', ('GHM-C', 'Gradient Harmonized Single-stage Detector',
              'https://arxiv.org/abs/1811.05181')),
    ('effective_number', ('Effective Number',
                          'Class-Balanced Loss Based on Effective Number of '
                          'Samples', 'https://arxiv.org/abs/1901.05555')),
    ('equalization', ('Equalization',
                      'Equalization Loss for Long-Tailed Object Recognition',
                      'https://arxiv.org/abs/2003.05176')),
    ('seesaw', ('Seesaw', 'Seesaw Loss for Long-Tailed Instance Segmentation',
                'https://arxiv.org/abs/2008.10032')),
    ('ldam_drw', ('LDAM-DRW', 'Learning Imbalanced Datasets with '
                  'Label-Distribution-Aware Margin Loss',
                  'https://arxiv.org/abs/1906.07413')),
    ('balanced_softmax', ('Balanced Softmax',
                          'Balanced Meta-Softmax for Long-Tailed Visual '
                          'Recognition', 'https://arxiv.org/abs/2007.10740')),
    ('logit_adjustment', ('Logit Adjustment',
                          'Long-tail learning via logit adjustment',
                          'https://arxiv.org/abs/2007.07314')),
    ('ghm_cwap', ('GHM-CWAP', 'Solving the Long-Tailed Problem via Intra- '
                  'and Inter-Category Balance', '')),
])


#: Hand-written configs kept in a method folder (not generated): folder ->
#: [(config name, data name, description)]. They appear in the folder's
#: metafile and README.
HAND_WRITTEN: Dict[str, List[Tuple[str, str, str]]] = {
    'ghm_cwap': [
        ('ghm-cwap-vis_resnet32_30e_cifar10jpeg-lt-if100',
         'cifar10jpeg-lt-if100',
         'the 30-epoch GHM-CWAP run with gradient-norm histograms logged at '
         'every AURA update (`mmghm.GradHistVisHook`), for the paper\'s '
         'Fig. 2; training is identical to `ghm-cwap`.'),
    ],
}


#: Config folders with a hand-written metafile.yml (not generated), listed in
#: model-index.yml after the generated ones: the decoupled second stages and
#: the re-sampling configs over the loss configs.
HAND_WRITTEN_FOLDERS = ('decoupling', )


def render_metafile(folder: str, pairs: List[Tuple[Method, Data]]) -> str:
    name, title, url = COLLECTIONS[folder]
    out = [
        '# Generated by tools/misc/generate_configs.py. No checkpoints are',
        '# released yet, so models carry no Results/Weights; the paper\'s',
        '# numbers and ours are in README.md.',
        'Collections:',
        f'  - Name: {name}',
        '    Metadata:',
        '      Training Techniques:',
        '        - SGD with Momentum',
        '        - Weight Decay',
        '      Architecture:',
        '        - ResNet',
        '    Paper:',
    ]
    if url:
        out.append(f'      URL: {url}')
    out += [f'      Title: "{title}"',
            f'    README: configs/{folder}/README.md', '', 'Models:']
    entries = [(config_name(m, d), d) for m, d in pairs]
    entries += [(name, DATA[data]) for name, data, _ in HAND_WRITTEN.get(
        folder, [])]
    for cfg, data in entries:
        out += [
            f'  - Name: {cfg}',
            '    Metadata:',
            f'      Training Data: {data.title.split(",")[0]}',
            f'      Epochs: {data.epochs}',
            f'      Batch Size: {data.batch_size}',
            f'      Architecture: [{data.backbone}]',
            f'    In Collection: {name}',
            f'    Config: configs/{folder}/{cfg}.py',
        ]
    return '\n'.join(out) + '\n'


def render_model_index(folders: List[str]) -> str:
    return 'Import:\n' + ''.join(f'  - configs/{f}/metafile.yml\n'
                                 for f in folders)


#: Folder -> extra README paragraphs (Markdown).
NOTES: Dict[str, str] = {
    'softmax': (
        'The reference row of every table. `softmax_resnet20_demo_digits-lt` '
        "is the cross-entropy half of the README's no-download demo."),
    'ghm_cwap': (
        'Hyper-parameters: the paper\'s alpha = 0.9, N = 30 bins, gamma = '
        '0.8; the AURA update (`mmghm.AURAHook`, in every config\'s '
        'runtime) runs after each epoch. Weights use the tempered form of '
        'Eq. 1 by default (`intra_weight=\'tempered\'`, see '
        '[docs/method.md](../../docs/method.md), section 4, and the '
        'measurements there); '
        '`ghm-cwap-literal` uses the literal Eq. 1.\n\n'
        'Table 3 (ablation, ImageNet-LT) maps to the loss switches as '
        'follows. The paper ties AURA to the inter-category term '
        '("A^URA", "A^AURA"), so "R" alone uses uniform bins:\n\n'
        '| Paper | Config | intra | inter | adaptive |\n'
        '|---|---|:-:|:-:|:-:|\n'
        '| R | `ghm-cwap-r_*` | True | False | False |\n'
        '| A^URA | `ghm-cwap-a-ura_*` | False | True | False |\n'
        '| R + A^URA | `ghm-cwap-r-a-ura_*` | True | True | False |\n'
        '| R + A^AURA | `ghm-cwap_*` | True | True | True |\n\n'
        '`ghm-cwap-a-aura` (margins with AURA, no weights) is not in the '
        'paper. Note: the paper\'s Table 3 row "R" (63.51 / 48.69 / 24.37 '
        '/ 15.52 / 38.02) is digit for digit its Table 2 Seesaw row; it is '
        'reproduced here as printed.\n\n'
        '`ghm-cwap_resnet20_demo_digits-lt` is the README\'s demo: real '
        'handwritten digits shipped with scikit-learn, long-tailed with '
        'imbalance factor 10, a few minutes on 2 CPU cores, no download.'),
    'seesaw': (
        '`seesaw_*` uses `mmghm.DistSeesawLoss` (the accumulated class '
        'counts are summed over GPUs, and no Python loop over classes); '
        '`seesaw-mmpretrain_*` uses MMPretrain\'s own `SeesawLoss` '
        '(counts per GPU), for comparison. p = 0.8, q = 2.0 as published, '
        'both on the plain linear classifier (see above).'),
    'class_balanced': (
        'Note: the paper\'s Table 1 prints identical TinyImageNet-LT rows '
        'for Class Balanced and Effective Number (30.90 / 39.48 / 54.17 / '
        '63.06 at IF 500 / 100 / 10 / 1), most likely a copy error; both '
        'are recorded as printed (as is the Table 3 "R" row, which repeats '
        'Table 2\'s Seesaw row).'),
    'equalization': (
        'lambda_ is a frequency threshold (share of the training images) '
        'that Tan et al. tune per data set; 5e-3 with gamma 0.9 is their '
        'CIFAR-100-LT softmax-EQL setting, used here for every data set. '
        'Override with `--cfg-options model.head.loss.lambda_=...`.'),
    'effective_number': (
        'The paper says it uses the authors\' hyper-parameters. On '
        'ImageNet-LT and iNaturalist the configs use Cui et al.\'s own '
        'large-scale setting (ILSVRC 2012, iNaturalist 2017/2018 in their '
        'paper): the class-balanced sigmoid focal loss with beta = 0.999, '
        'gamma = 0.5. On CIFAR and TinyImageNet, where Cui et al. tune the '
        'loss form and beta per data set (and report no IF 500), the '
        'configs use one setting, beta = 0.9999 on softmax cross-entropy, '
        'our choice. Other forms: `--cfg-options '
        'model.head.loss.loss_type=focal model.head.loss.gamma=...`.\n\n'
        'Note: the paper\'s Table 1 prints identical TinyImageNet-LT rows '
        'for Class Balanced and Effective Number (30.90 / 39.48 / 54.17 / '
        '63.06), most likely a copy error; both are recorded as printed.'),
    'ldam_drw': (
        'The cosine classifier (`mmghm.NormedLinearClsHead`) replaces the '
        'linear one, LDAM scales its logits by s = 30, and the deferred '
        're-weighting (effective-number weights) starts at 80% of training '
        '(epoch 160 of 200; 24 of 30 in the CPU-sized schedule), switched by '
        '`mmghm.LossEpochHook`.'),
    'ghmc': (
        'The original sigmoid GHM-C of Li et al. (30 bins, momentum 0.75) on '
        'a softmax classifier\'s logits, as the paper compares it; the '
        'paper finds it unsuited to multi-class classification.'),
}

#: Every folder with paper configs.
SCHEDULE_NOTE = (
    '**Schedule.** The paper states no epochs, learning rate, batch size, '
    'weight decay or augmentation. The `*_200e_*` configs use LDAM-DRW\'s '
    'long-tailed CIFAR schedule (200 epochs, batch 128, SGD lr 0.1 with a '
    '5-epoch warm-up and x0.01 at epochs 160 and 180, weight decay 2e-4, '
    '4-pixel pad + random crop + flip) and the `*_90e_*` ones Decoupling\'s '
    'ImageNet-LT / iNaturalist recipe: both chosen by us.')

IMAGENET_NOTE = (
    '**ImageNet-LT, two constructions.** `*_imagenet-lt-if100` is the '
    'paper\'s (ImageNet-2012 train made long-tailed by random removal, '
    'IF 100: 732 down to 7 images a class; Many / Medium / Few / Rare at '
    '100 / 20 / 10 images hold 430 / 351 / 151 / 68 classes); '
    '`*_imagenet-lt` uses Liu et al.\'s lists (IF 256, 1,280 down to 5), '
    'which most published ImageNet-LT numbers use.')

GPU_NOTE = (
    '**GPU reproduction** (`*_200e_cifar10jpeg-lt-if*`): the 200-epoch '
    'schedule on the CIFAR-10 JPEG copy, the data a GPU machine can carry '
    '(`tools/analysis/pack_cifar_lt.py`), for the reproduction harness '
    '(`tools/analysis/reproduce_cifar_lt.py`, `tools/device/'
    'run_cifar_lt.sh`). JPEG compression puts accuracies slightly below '
    'those on the official CIFAR-10.')

CPU_NOTE = (
    '**CPU-sized comparison** (`*_30e_cifar10jpeg-lt-if100`): the same '
    'ResNet-32, batch, optimiser and peak lr as the 200-epoch schedule, '
    'compressed to 30 epochs (warm-up over the first epoch, lr x0.01 at '
    'epoch 24 and again at 27, the same 80% / 90% points as 160 / 180 of '
    '200), on the real CIFAR-10 as JPEG files (any folder of '
    '`train/<class>/*.jpg` and `test/<class>/*.jpg`; set '
    '`CIFAR10_JPEG_ROOT` to it). It runs on 2 CPU cores '
    'in well under an hour per method. Its accuracies are several points '
    'below the 200-epoch ones and compare methods with each other only, '
    'not with the paper\'s column (whose schedule the paper does not '
    'state).')


def render_readme(folder: str, pairs: List[Tuple[Method, Data]]) -> str:
    name, title, url = COLLECTIONS[folder]
    paper = f'[{title}]({url})' if url else title
    out = [f'# {name}', '', f'> {paper}', '']
    comments: Dict[str, str] = OrderedDict()
    for m, d in pairs:
        comments.setdefault(m.name, m.describe(d))
    out += [f'- `{k}`: {v}' for k, v in comments.items()]
    for cfg, _, text in HAND_WRITTEN.get(folder, []):
        out.append(f'- `{cfg}`: {text}')
    if folder in NOTES:
        out += ['', NOTES[folder]]
    if any(d.schedule in ('200e', '90e') for _, d in pairs):
        out += ['', SCHEDULE_NOTE]
    if any(d.name.startswith('imagenet-lt') for _, d in pairs):
        out += ['', IMAGENET_NOTE]
    if any(d in JPEG_200E for _, d in pairs):
        out += ['', GPU_NOTE]
    if any(d.schedule == '30e' for _, d in pairs):
        out += ['', CPU_NOTE]
    # The results table is generated from results/ (mmghm.results); the
    # block is rendered here too, so that --readmes keeps it current.
    from mmghm.results.readme import render_block
    block = render_block('config-folder', {'folder': folder}, ROOT,
                         osp.join(CONFIGS, folder))
    out += [
        '', '## Results', '',
        'Top-1 accuracy (%) on the balanced test set. "Paper" is the GHM-CWAP '
        "paper's number for this cell (Tables 1-3: ResNet-32 on "
        'CIFAR/TinyImageNet, ResNet-50 on ImageNet-LT / iNaturalist; the '
        'paper states no schedule). '
        '"Ours" is generated from the result files in `results/` '
        '(`python tools/analysis/collect_results.py readmes`): mean ± '
        'sample standard deviation over the n seeds of each suite that ran '
        'the config, with the Many / Medium / Few groups and how it was '
        'measured; see [docs/results.md](../../docs/results.md).', '',
        f'<!-- results:config-folder folder={folder} -->', block,
        '<!-- /results -->'
    ]
    out += [
        '', 'Train and test one config:', '', '```shell',
        f'python tools/train.py configs/{folder}/'
        f'{config_name(*pairs[0])}.py',
        f'python tools/test.py configs/{folder}/{config_name(*pairs[0])}.py '
        f'work_dirs/{config_name(*pairs[0])}/epoch_{pairs[0][1].epochs}.pth',
        '```', '', 'Collect many runs into the paper\'s table layout, or '
        'export them into result files:', '', '```shell',
        'python tools/analysis/collect_results.py tables work_dirs/',
        'python tools/analysis/collect_results.py export work_dirs/RUN '
        '--suite SUITE', '```'
    ]
    return '\n'.join(out) + '\n'


def outputs(with_readmes: bool = False) -> Dict[str, str]:
    """Path (relative to the repository) -> text of every generated file."""
    files: Dict[str, str] = OrderedDict()
    by_folder: Dict[str, List[Tuple[Method, Data]]] = OrderedDict(
        (f, []) for f in COLLECTIONS)
    for method, data in grid():
        name = config_name(method, data)
        files[f'configs/{method.folder}/{name}.py'] = render_config(
            method, data)
        by_folder[method.folder].append((method, data))
    for folder, pairs in by_folder.items():
        files[f'configs/{folder}/metafile.yml'] = render_metafile(
            folder, pairs)
        if with_readmes:
            files[f'configs/{folder}/README.md'] = render_readme(
                folder, pairs)
    files['model-index.yml'] = render_model_index(
        list(by_folder) + list(HAND_WRITTEN_FOLDERS))
    return files


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='only report files that differ; exit 1 if any')
    parser.add_argument('--readmes', action='store_true',
                        help="also (re)write the folders' README.md")
    args = parser.parse_args(argv)
    stale = []
    for rel, text in outputs(args.readmes).items():
        path = osp.join(ROOT, rel)
        current = None
        if osp.exists(path):
            with open(path, encoding='utf-8') as f:
                current = f.read()
        if current == text:
            continue
        stale.append(rel)
        if not args.check:
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
    verb = 'stale' if args.check else 'written'
    print(f'{len(stale)} file(s) {verb}' + ''.join(f'\n  {s}' for s in stale))
    return 1 if (args.check and stale) else 0


if __name__ == '__main__':
    sys.exit(main())
