"""collect_results.py's commands (mmghm.results.cli) on real Runner output,
and the check that keeps every README table equal to the result files."""
import json
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmghm.results.cli import main
from mmghm.results.readme import check_files, count_blocks

REPO_ROOT = Path(__file__).resolve().parents[2]
NAME = 'softmax_resnet32_30e_cifar10jpeg-lt-if100'


class Toy(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 2)

    def forward(self, inputs, labels, mode='tensor'):
        logits = self.linear(inputs)
        if mode == 'loss':
            return {'loss': torch.nn.functional.cross_entropy(
                logits, labels)}
        return list(zip(logits.argmax(1), labels))


class Top1(BaseMetric):
    """accuracy/top1 and group_accuracy/many, 10 x / 1.5 x the call."""
    default_prefix = None

    def __init__(self):
        super().__init__()
        self.calls = 0

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        self.calls += 1
        return {'accuracy/top1': 10.0 * self.calls,
                'group_accuracy/many': 1.5 * self.calls}


def _train_then_test(tmp_path: Path) -> tuple:
    """3 epochs in one work dir, then tools/test.py's Runner on its last
    checkpoint in another (restoring MMEngine's default scope after)."""
    data = [dict(inputs=torch.randn(2), labels=torch.tensor(i % 2))
            for i in range(8)]
    loader = dict(dataset=data, batch_size=4,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    cfg_file = tmp_path / f'{NAME}.py'
    cfg_file.write_text('randomness = dict(seed=5)\n')
    train_dir, test_dir = tmp_path / 'train', tmp_path / 'test'
    common = dict(model=Toy(), val_dataloader=loader, val_cfg=dict(),
                  val_evaluator=[Top1()], default_scope='mmengine',
                  cfg=Config.fromfile(str(cfg_file)), randomness=dict(seed=5),
                  default_hooks=dict(logger=dict(type='LoggerHook',
                                                 interval=1)))
    # Unique experiment names: MMEngine keys its loggers by them.
    tag = tmp_path.name
    with DefaultScope.overwrite_default_scope('mmengine'):
        Runner(work_dir=str(train_dir), train_dataloader=loader,
               experiment_name=f'train-{tag}',
               train_cfg=dict(by_epoch=True, max_epochs=3),
               optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
               **common).train()
        common.update(model=Toy(), test_dataloader=loader, test_cfg=dict(),
                      test_evaluator=[Top1()],
                      load_from=str(train_dir / 'epoch_3.pth'))
        Runner(work_dir=str(test_dir), experiment_name=f'test-{tag}',
               **common).test()
    return train_dir, test_dir


def test_export_real_runner_outputs_one_checkpoint_one_file(tmp_path,
                                                            capsys):
    train_dir, test_dir = _train_then_test(tmp_path)
    results = tmp_path / 'results'
    assert main(['export', str(train_dir), str(test_dir), '--suite',
                 'toy_cpu', '--results-dir', str(results), '--device',
                 'cpu: toy'], root=str(REPO_ROOT)) == 0
    files = sorted(results.rglob('*.json'))
    assert [f.relative_to(results).as_posix() for f in files] == [
        f'toy_cpu/{NAME}/seed5.json']
    data = json.loads(files[0].read_text())
    # The test Runner's metrics (its first evaluation), the real config.
    assert data['metrics'] == {'accuracy/top1': 10.0,
                               'group_accuracy/many': 1.5}
    assert data['config'] == f'configs/softmax/{NAME}.py'
    assert data['measured']['evaluated'] == 'tools/test.py on epoch_3.pth'
    assert data['measured']['device'] == 'cpu: toy'
    assert data['measured']['epochs'] == 3
    # Validation only: the training's last epoch.
    assert main(['export', str(train_dir), '--suite', 'val_cpu',
                 '--results-dir', str(results), '--source', 'val'],
                root=str(REPO_ROOT)) == 0
    data = json.loads(
        (results / 'val_cpu' / NAME / 'seed5.json').read_text())
    assert data['metrics']['accuracy/top1'] == 30.0
    # Bad input: a clear message, exit code 2.
    assert main(['export', str(tmp_path / 'nope'), '--suite', 's'],
                root=str(REPO_ROOT)) == 2
    assert 'no such file or folder' in capsys.readouterr().err


def test_former_interface_prints_the_paper_layout(tmp_path, capsys):
    train_dir, _ = _train_then_test(tmp_path)
    assert main([str(train_dir)], root=str(REPO_ROOT)) == 0
    out = capsys.readouterr().out
    assert '### Table 1: CIFAR-10-LT (JPEG copy), resnet32, 30e' in out
    assert '| Softmax | 30.00 / 71.74 |' in out


def test_every_readme_table_is_what_the_result_files_give():
    """README.md, configs/*/README.md and docs/*.md: every results block
    equals its regeneration from results/ (regenerate with
    `python tools/analysis/collect_results.py readmes`)."""
    assert check_files(str(REPO_ROOT)) == []
    # The README's results come from blocks, not from hand-written tables.
    assert count_blocks(str(REPO_ROOT / 'README.md')) >= 2
    for folder in (REPO_ROOT / 'configs').iterdir():
        if (folder / 'metafile.yml').is_file():
            assert count_blocks(str(folder / 'README.md')) == 1, folder
