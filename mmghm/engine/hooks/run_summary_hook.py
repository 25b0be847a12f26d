"""Say, at the end of a training, what it produced and where it is."""
import os
import os.path as osp
import time
from typing import Dict, Optional

import torch
from mmengine.dist import get_world_size, is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import Runner

from mmghm.registry import HOOKS
from mmghm.utils.checks import check_bool
from mmghm.utils.files import atomic_json_dump
from mmghm.utils.provenance import code_commit, device_description

__all__ = ['RunSummaryHook']

#: File name of the summary, in the session's log folder.
SUMMARY_NAME = 'summary.json'
FIG2_NAME = 'fig2_grad_norm.png'
CLASS_ACCURACY_NAME = 'class_accuracy.png'


@HOOKS.register_module()
class RunSummaryHook(Hook):
    """At the end of training: final metrics, checkpoints, logs, pictures.

    After the last epoch (or iteration) it

    - draws the paper's Fig. 2 from the histograms that
      :class:`~mmghm.engine.GradHistVisHook` dumped (``grad_hist/``), when
      the run has them, into ``{work_dir}/fig2_grad_norm.png``;
    - draws the per-class accuracy against training frequency from the
      last evaluation of a ``GroupAccuracy(out_file=...)`` metric into
      ``{work_dir}/class_accuracy.png``;
    - logs one summary: final metrics, the last (and best) checkpoint and
      which checkpoints are kept, the text log, ``scalars.json``, the
      pictures, each with its path;
    - writes the same as ``{log_dir}/summary.json``, with the device, the
      torch version, the code version and the wall time of the training
      (``tools/analysis/collect_results.py export`` reads it).

    Only the main process draws and writes. A picture that cannot be drawn
    is reported in the summary with the reason; training has finished by
    then and is not failed for it.

    Args:
        draw: Draw the pictures.
    """

    priority = 'LOWEST'  # after CheckpointHook wrote the last checkpoint

    def __init__(self, draw: bool = True) -> None:
        self.draw = check_bool('draw', draw)
        self._start: Optional[float] = None
        self._metrics: Dict[str, float] = {}
        self._metrics_at: Optional[str] = None

    def before_train(self, runner: Runner) -> None:
        self._start = time.perf_counter()

    def after_val_epoch(self, runner: Runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if metrics:
            self._metrics = dict(metrics)
            # The train loop, if this validation is part of a training.
            loop = getattr(runner, '_train_loop', None)
            by_epoch = hasattr(loop, 'max_epochs')
            self._metrics_at = (f'epoch {runner.epoch}' if by_epoch else
                                f'iteration {runner.iter}')

    # ------------------------------------------------------------------
    def _checkpoints(self, runner: Runner) -> dict:
        work_dir = runner.work_dir
        last = None
        marker = osp.join(work_dir, 'last_checkpoint')
        if osp.isfile(marker):
            with open(marker, encoding='utf-8') as f:
                last = f.read().strip() or None
        ckpt_hooks = [h for h in runner.hooks
                      if isinstance(h, CheckpointHook)]
        best = None
        keep = None
        if ckpt_hooks:
            hook = ckpt_hooks[0]
            keep = hook.max_keep_ckpts if hook.max_keep_ckpts > 0 else None
            best_paths = getattr(hook, 'best_ckpt_path_dict', None) or {}
            best = getattr(hook, 'best_ckpt_path', None) or (
                next(iter(best_paths.values())) if best_paths else None)
        kept = sorted(
            (f for f in os.listdir(work_dir) if f.endswith('.pth')),
            key=lambda f: osp.getmtime(osp.join(work_dir, f)))
        return dict(last=last, best=best, keep=keep,
                    kept=[osp.join(work_dir, f) for f in kept])

    def _group_accuracy_file(self, runner: Runner) -> Optional[str]:
        evaluator = getattr(runner.val_loop, 'evaluator', None) \
            if runner.val_loop is not None else None
        for metric in getattr(evaluator, 'metrics', []) or []:
            out_file = getattr(metric, 'out_file', None)
            if out_file and getattr(metric, 'last_result', None) is not None:
                path = out_file if osp.isabs(out_file) else osp.join(
                    getattr(metric, 'work_dir', None) or runner.work_dir,
                    out_file)
                if osp.isfile(path):
                    return path
        return None

    def _draw(self, runner: Runner) -> Dict[str, str]:
        """Pictures: name -> path, or name -> 'not drawn: why'."""
        pictures: Dict[str, str] = {}
        work_dir = runner.work_dir
        if osp.isdir(osp.join(work_dir, 'grad_hist')):
            out = osp.join(work_dir, FIG2_NAME)
            try:
                from mmghm.visualization import (draw_fig2, fig2_data,
                                                 load_grad_hist)
                fig = draw_fig2(fig2_data(load_grad_hist(work_dir)))
                fig.savefig(out)
                import matplotlib.pyplot as plt
                plt.close(fig)
                pictures['fig2'] = out
            except Exception as e:  # report, do not fail a finished run
                pictures['fig2'] = f'not drawn: {type(e).__name__}: {e}'
        per_class = self._group_accuracy_file(runner)
        if per_class:
            out = osp.join(work_dir, CLASS_ACCURACY_NAME)
            try:
                from mmghm.visualization.class_accuracy import (
                    load_result, plot_class_accuracy)
                plot_class_accuracy([load_result(per_class)],
                                    [runner.experiment_name.rsplit('_', 2)[0]
                                     ], out)
                pictures['class_accuracy'] = out
            except Exception as e:  # report, do not fail a finished run
                pictures['class_accuracy'] = (
                    f'not drawn: {type(e).__name__}: {e}')
        return pictures

    def summary(self, runner: Runner) -> dict:
        """Everything the summary says, as a dict (paths absolute)."""
        log_dir = runner.log_dir
        timestamp = osp.basename(log_dir)
        checkpoints = self._checkpoints(runner)
        vis_images = osp.join(log_dir, 'vis_data', 'vis_image')
        per_class = self._group_accuracy_file(runner)
        files = dict(
            work_dir=osp.abspath(runner.work_dir),
            log=osp.join(log_dir, f'{timestamp}.log'),
            scalars=osp.join(log_dir, 'vis_data', 'scalars.json'),
            config=osp.join(log_dir, 'vis_data', 'config.py'),
            summary=osp.join(log_dir, SUMMARY_NAME),
        )
        if per_class:
            files['per_class'] = per_class
        if osp.isdir(osp.join(runner.work_dir, 'grad_hist')):
            files['grad_hist'] = osp.join(runner.work_dir, 'grad_hist')
        if osp.isdir(vis_images):
            files['vis_images'] = vis_images
        wall = (time.perf_counter() - self._start
                if self._start is not None else None)
        return dict(
            metrics=self._metrics,
            metrics_at=self._metrics_at,
            checkpoints=checkpoints,
            files={k: osp.abspath(v) for k, v in files.items()},
            device=device_description(processes=get_world_size()),
            torch=torch.__version__.split('+')[0],
            commit=code_commit(),
            wall_s=None if wall is None else round(wall, 1),
        )

    @staticmethod
    def format(summary: dict, pictures: Dict[str, str]) -> str:
        """The summary as the lines the log shows."""
        lines = [f'Run summary (work dir {summary["files"]["work_dir"]}):']
        if summary['metrics']:
            shown = ', '.join(f'{k} {v:.2f}'
                              for k, v in summary['metrics'].items()
                              if isinstance(v, (int, float)))
            lines.append(f'  final metrics ({summary["metrics_at"]}): '
                         f'{shown}')
        else:
            lines.append('  final metrics: none (no validation ran)')
        ck = summary['checkpoints']
        keep = (f'only the last {ck["keep"]} are kept'
                if ck['keep'] else 'all are kept')
        kept = ', '.join(osp.basename(p) for p in ck['kept']) or 'none'
        lines.append(f'  last checkpoint: {ck["last"] or "none saved"} '
                     f'({keep}: {kept})')
        lines.append('  best checkpoint: ' + (
            ck['best'] or 'none (the config sets no save_best: the last '
            'epoch is the result)'))
        names = dict(log='text log', scalars='scalars (JSON lines)',
                     config='config as run', per_class='per-class results',
                     grad_hist='gradient histograms (Fig. 2 data)',
                     vis_images='logged images', summary='this summary')
        for key, label in names.items():
            if key in summary['files']:
                lines.append(f'  {label}: {summary["files"][key]}')
        pic_names = dict(fig2="the paper's Fig. 2",
                         class_accuracy='per-class accuracy')
        for key, path in pictures.items():
            lines.append(f'  picture, {pic_names.get(key, key)}: {path}')
        if summary['wall_s'] is not None:
            lines.append(f'  training took {summary["wall_s"]:.1f} s on '
                         f'{summary["device"]}')
        return '\n'.join(lines)

    def after_train(self, runner: Runner) -> None:
        if not is_main_process():
            return
        summary = self.summary(runner)
        pictures = self._draw(runner) if self.draw else {}
        summary['pictures'] = pictures
        os.makedirs(runner.log_dir, exist_ok=True)
        atomic_json_dump(summary, summary['files']['summary'], indent=1,
                         default=str)
        runner.logger.info(self.format(summary, pictures))
