"""Results: from work dirs to result files to README tables.

- :mod:`~mmghm.results.runs` reads MMEngine Runner work dirs,
- :mod:`~mmghm.results.export` turns their runs into run results,
- :mod:`~mmghm.results.files` writes and reads result files (the schema),
- :mod:`~mmghm.results.tables` renders run results as Markdown tables,
- :mod:`~mmghm.results.readme` keeps the tables in README files current,
- :mod:`~mmghm.results.paper` holds the paper's own numbers (from
  ``paper_tables.yml``).

One pipeline: work dirs -> run results -> tables. ``collect_results.py
export`` writes the results of work dirs to files, from which ``readmes``
renders every README block; ``tables`` renders work dirs exported in memory
with the same renderer. ``tools/analysis/collect_results.py`` is the
command line for all of it. Not imported by ``import mmghm``: nothing here
is needed to train.
"""
from .export import export_run
from .files import (BENCHMARK_SCHEMA, RUN_SCHEMA, RunResult, load_benchmark,
                    load_run_results, result_path, validate_benchmark,
                    validate_run_result, write_benchmark, write_result)
from .names import ConfigName, parse_config_name
from .paper import load_paper_tables, paper_top1
from .readme import check_files, readme_files, update_file
from .runs import Run, load_runs, merge_by_checkpoint, select_metrics

__all__ = [
    'BENCHMARK_SCHEMA', 'RUN_SCHEMA', 'RunResult', 'export_run',
    'load_benchmark', 'load_run_results', 'result_path',
    'validate_benchmark', 'validate_run_result', 'write_benchmark',
    'write_result',
    'ConfigName', 'parse_config_name', 'load_paper_tables', 'paper_top1',
    'check_files', 'readme_files', 'update_file', 'Run', 'load_runs',
    'merge_by_checkpoint', 'select_metrics'
]
