"""The GHM-CWAP paper's own numbers (Tables 1-3), read from a data file.

The numbers live in ``paper_tables.yml`` beside this module (shipped with
the package), never in code, so that one test can check each of them
against the paper's text. This module turns that file into the mappings the
table renderers use.
"""
import os.path as osp
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Optional, Tuple

import yaml

from .names import is_paper_data

#: The data file.
PAPER_TABLES_FILE = osp.join(osp.dirname(__file__), 'paper_tables.yml')


@dataclass(frozen=True)
class PaperTables:
    """Tables 1-3 of the paper.

    Attributes:
        table1_ifs: Imbalance factors of Table 1, in the paper's column order.
        table1_datasets: Data set names of Table 1 (config ``{data}`` parts
            without ``-if<N>``).
        table1: method -> data set -> one value per imbalance factor.
        group_columns: Columns of Tables 2 and 3 (groups, then overall).
        table2: data set -> method -> one value per group column.
        table3: method -> one value per group column (ImageNet-LT).
        labels: table name ('table1'...) -> method -> the row's label in
            the paper.
    """
    table1_ifs: Tuple[int, ...]
    table1_datasets: Tuple[str, ...]
    table1: Dict[str, Dict[str, Tuple[float, ...]]]
    group_columns: Tuple[str, ...]
    table2: Dict[str, Dict[str, Tuple[float, ...]]]
    table3: Dict[str, Tuple[float, ...]]
    labels: Dict[str, Dict[str, str]]


def _values(row: dict, key: str, width: int,
            where: str) -> Tuple[float, ...]:
    values = row.get(key)
    if not isinstance(values, list) or len(values) != width or not all(
            isinstance(v, (int, float)) for v in values):
        raise ValueError(f'{where}: {key} must be a list of {width} numbers, '
                         f'got {values!r}.')
    return tuple(float(v) for v in values)


@lru_cache(maxsize=None)
def load_paper_tables(path: str = PAPER_TABLES_FILE) -> PaperTables:
    """Read and check the paper's tables.

    Args:
        path: The YAML file (default: the one shipped with mmghm).

    Raises:
        ValueError: If a row lacks a data set or has the wrong width.
    """
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    t1 = data['table1']
    ifs = tuple(int(i) for i in t1['imbalance_factors'])
    datasets1 = tuple(t1['datasets'])
    table1 = {
        m: {d: _values(row, d, len(ifs), f'{path} table1.{m}')
            for d in datasets1}
        for m, row in t1['rows'].items()
    }
    t2, t3 = data['table2'], data['table3']
    columns = tuple(t2['columns'])
    if tuple(t3['columns']) != columns:
        raise ValueError(f'{path}: tables 2 and 3 must share their columns.')
    table2: Dict[str, Dict[str, Tuple[float, ...]]] = {
        d: {} for d in t2['datasets']}
    for m, row in t2['rows'].items():
        for d in t2['datasets']:
            table2[d][m] = _values(row, d, len(columns),
                                   f'{path} table2.{m}')
    (dataset3, ) = t3['datasets']
    table3 = {m: _values(row, dataset3, len(columns), f'{path} table3.{m}')
              for m, row in t3['rows'].items()}
    labels = {name: {m: str(row['label'])
                     for m, row in data[name]['rows'].items()}
              for name in ('table1', 'table2', 'table3')}
    return PaperTables(ifs, datasets1, table1, columns, table2, table3,
                       labels)


def paper_top1(method: str, dataset: str,
               imbalance_factor: Optional[int] = None,
               schedule: Optional[str] = None) -> Optional[float]:
    """The paper's overall top-1 for one config's cell, or None.

    Args:
        method: Method part of the config name (``ghm-cwap``, ``softmax``,
            ``ghm-cwap-r``...).
        dataset: Data part without ``-if<N>`` (``cifar10-lt``,
            ``imagenet-lt``...).
        imbalance_factor: For Table 1 data sets.
        schedule: The config's schedule part; Table 1 cells are given only
            for the 200-epoch configs (``'200e'``) or when None.
    """
    tables = load_paper_tables()
    if dataset in tables.table1_datasets:
        if schedule not in (None, '200e'):
            return None
        values = tables.table1.get(method, {}).get(dataset)
        if values and imbalance_factor in tables.table1_ifs:
            return values[tables.table1_ifs.index(imbalance_factor)]
        return None
    if dataset in tables.table2:
        if not is_paper_data(dataset, imbalance_factor):
            return None
        values = tables.table2[dataset].get(method)
        if values is None and dataset == 'imagenet-lt':
            values = tables.table3.get(method)
        return values[-1] if values else None
    return None
