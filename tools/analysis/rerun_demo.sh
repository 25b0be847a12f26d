#!/usr/bin/env bash
# Rerun the README's demo (GHM-CWAP and its cross-entropy twin on
# digits-LT, 30 epochs each, one after the other), replace its result files
# and regenerate every results table. A few minutes per run on 2 CPU cores.
#
#   bash tools/analysis/rerun_demo.sh [WORK_ROOT]     (default: work_dirs)
#
# Then review and commit results/digits-lt_demo_cpu/, docs/images/ and the
# README files the last step changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="${1:-work_dirs}"
suite=digits-lt_demo_cpu
ghm="$root/demo/ghm-cwap_resnet20_demo_digits-lt"
ce="$root/demo/softmax_resnet20_demo_digits-lt"

rm -rf "$ghm" "$ce"
python tools/train.py configs/ghm_cwap/ghm-cwap_resnet20_demo_digits-lt.py --work-dir "$ghm"
python tools/train.py configs/softmax/softmax_resnet20_demo_digits-lt.py --work-dir "$ce"
# New checkpoints replace the old results of the same seeds.
rm -rf "results/$suite"
python tools/analysis/collect_results.py export "$ghm" "$ce" --suite "$suite"
cp "$ghm/fig2_grad_norm.png" docs/images/digits-lt_demo_fig2.png
python tools/analysis/collect_results.py readmes
python -m pytest tests/test_results -q
