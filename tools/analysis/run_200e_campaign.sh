#!/usr/bin/env bash
# The paper's schedule on the CPU: 200-epoch ResNet-32 runs on the JPEG
# CIFAR-10-LT (IF 100) through tools/train.py, one run at a time, in the
# order below, carried across sessions by exact resume.
#
#   CIFAR10_JPEG_ROOT=/path/to/cifar10-jpeg \
#       bash tools/analysis/run_200e_campaign.sh WORK_ROOT [SEEDS]
#
# Restartable: start it again (e.g. in the background at the start of a
# session) and every unfinished run resumes exactly from its latest
# checkpoint (--resume, ExactResumeHook), a finished one is skipped.
# WORK_ROOT should lie outside the checkout. One run at a time (PARALLEL=1)
# with THREADS (default 1) threads leaves a core for other work. Validation
# every 10 epochs (VAL_INTERVAL) gives the curves in the result files;
# channels-last memory format (mmghm.ChannelsLastHook) makes a CPU step
# about 20% faster.
# Each run goes to WORK_ROOT/<config name>/seed<k>; export the finished ones
# with tools/analysis/collect_results.py export (docs/results.md).
set -uo pipefail
root=${1:?usage: run_200e_campaign.sh WORK_ROOT [SEEDS]}
seeds=${2:-0}
cd "$(dirname "$0")/../.."
: "${CIFAR10_JPEG_ROOT:?set CIFAR10_JPEG_ROOT to the unpacked cifar10-jpeg folder (train/, test/)}"
c=configs
configs=(
    "$c/ghm_cwap/ghm-cwap_resnet32_200e_cifar10jpeg-lt-if100.py"
    "$c/balanced_softmax/balanced-softmax_resnet32_200e_cifar10jpeg-lt-if100.py"
    "$c/softmax/softmax_resnet32_200e_cifar10jpeg-lt-if100.py"
    "$c/ldam_drw/ldam-drw_resnet32_200e_cifar10jpeg-lt-if100.py"
)
PARALLEL=1 THREADS=${THREADS:-1} TRAIN_FLAGS="--channels-last ${TRAIN_FLAGS:-}" \
    EXTRA="train_cfg.val_interval=${VAL_INTERVAL:-10} ${EXTRA:-}" \
    exec bash tools/analysis/run_seeds.sh "$root" "$seeds" "${configs[@]}"
