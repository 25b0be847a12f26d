"""The code version and device that result files, summaries and benchmarks
record, from one place."""
import subprocess

import torch

from mmghm.utils.provenance import COMMIT_ENV, code_commit, device_description


def test_code_commit_is_the_checkouts_head(tmp_path):
    subprocess.run(['git', 'init', '-q', str(tmp_path)], check=True)
    (tmp_path / 'a.txt').write_text('1')
    git = ['git', '-C', str(tmp_path), '-c', 'user.name=t', '-c',
           'user.email=t@t']
    subprocess.run(git + ['add', 'a.txt'], check=True)
    subprocess.run(git + ['commit', '-q', '-m', 'x'], check=True)
    head = subprocess.run(git + ['rev-parse', 'HEAD'], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert code_commit(str(tmp_path)) == head
    (tmp_path / 'a.txt').write_text('2')  # a tracked file changed
    assert code_commit(str(tmp_path)) == head + '-dirty'


def test_outside_a_checkout_the_environment_names_the_commit(
        tmp_path, monkeypatch):
    monkeypatch.delenv(COMMIT_ENV, raising=False)
    assert code_commit(str(tmp_path)) is None
    monkeypatch.setenv(COMMIT_ENV, 'abc123')
    assert code_commit(str(tmp_path)) == 'abc123'


def test_device_description_names_cores_threads_and_processes():
    text = device_description(torch.device('cpu'), processes=2)
    threads = torch.get_num_threads()
    assert text.startswith('cpu: ') and text.endswith(', 2 processes')
    assert f'{threads} thread' in text
    assert 'processes' not in device_description(torch.device('cpu'))
