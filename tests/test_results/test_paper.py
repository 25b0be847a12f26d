"""The paper's numbers in mmghm/results/paper_tables.yml are the paper's."""
import re

import pytest
import yaml

from mmghm.results.paper import (PAPER_TABLES_FILE, load_paper_tables,
                                 paper_top1)


def _paper_rows(text: str, table: str) -> dict:
    """Row label -> numbers of one table in the paper's text (tab
    separated, <b> marks the best cell)."""
    block = re.sub(r'</?b>', '', text.split(f'**{table}.**', 1)[1])
    rows = {}
    for line in block.splitlines()[1:]:
        if line.startswith('**Table') or line.startswith('#'):
            break
        cells = line.split('\t')
        try:
            values = [float(c) for c in cells[1:] if c.strip()]
        except ValueError:  # a header line
            continue
        label = cells[0].strip()
        if values and label != 'Imbalance factor':  # Table 1's header row
            rows[label] = values
    return rows


def test_every_number_is_the_papers(paper_text):
    tables = load_paper_tables()
    t1 = _paper_rows(paper_text, 'Table 1')
    checked = 0
    for method, label in tables.labels['table1'].items():
        ours = [v for d in tables.table1_datasets
                for v in tables.table1[method][d]]
        assert t1[label] == ours, method
        checked += len(ours)
    t2 = _paper_rows(paper_text, 'Table 2')
    for method, label in tables.labels['table2'].items():
        ours = [v for d in tables.table2 for v in tables.table2[d][method]]
        assert t2[label] == ours, method
        checked += len(ours)
    t3 = _paper_rows(paper_text, 'Table 3')
    for method, label in tables.labels['table3'].items():
        assert t3[label] == list(tables.table3[method]), method
        checked += len(tables.table3[method])
    # 8 x 12 + 6 x 10 + 5 x 5 cells, and every row of the paper is kept.
    assert checked == 96 + 60 + 25
    assert set(t1) == set(tables.labels['table1'].values())
    assert set(t2) == set(tables.labels['table2'].values())
    assert set(t3) == set(tables.labels['table3'].values())


def test_cells_by_config():
    assert paper_top1('ghm-cwap', 'cifar10-lt', 100) == 75.39
    assert paper_top1('softmax', 'tinyimagenet-lt', 1) == 63.32
    assert paper_top1('ghm-cwap', 'cifar10-lt', 100, '200e') == 75.39
    # Other schedules are not the paper's cell.
    assert paper_top1('ghm-cwap', 'cifar10-lt', 100, '30e') is None
    assert paper_top1('ghm-cwap', 'cifar10-lt', 50) is None
    # Table 2's overall column; Table 3's ablation rows on ImageNet-LT.
    assert paper_top1('seesaw', 'inat2017') == 59.15
    assert paper_top1('ghm-cwap-r-a-ura', 'imagenet-lt', 100) == 38.42
    # ImageNet-LT is the paper's only as its construction (random removal,
    # IF 100), not Liu et al.'s lists (no imbalance factor in the name).
    assert paper_top1('softmax', 'imagenet-lt', 100) == 36.67
    assert paper_top1('softmax', 'imagenet-lt') is None
    assert paper_top1('ghm-cwap-r-a-ura', 'imagenet-lt') is None
    assert paper_top1('ldam-drw', 'cifar10-lt', 100) is None
    assert paper_top1('softmax', 'digits-lt') is None


def test_malformed_file_names_the_row(tmp_path):
    with open(PAPER_TABLES_FILE, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    data['table1']['rows']['focal']['cifar100-lt'] = [1.0, 2.0]
    bad = tmp_path / 'paper.yml'
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match='table1.focal: cifar100-lt must be '
                       'a list of 4 numbers'):
        load_paper_tables(str(bad))
