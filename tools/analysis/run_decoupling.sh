#!/usr/bin/env bash
# Re-sampling and decoupled training on the 30-epoch CIFAR-10-LT (JPEG,
# IF 100) protocol of README's comparison, through tools/train.py and
# tools/test.py: for each seed, the stage-1 runs and the stage-2 runs on
# their checkpoints, in this order
#
#   1. cross-entropy (stage 1), then cRT, LWS and tau-norm on it
#   2. GHM-CWAP (stage 1), then cRT on it
#   3. with ONE_SEED_TOO (default on for seed 0 only): Balanced Softmax
#      (stage 1) + cRT, and cross-entropy with each sampler end to end
#      (class-balanced, square-root, progressively balanced)
#
#   CIFAR10_JPEG_ROOT=/path/to/cifar10-jpeg \
#       bash tools/analysis/run_decoupling.sh WORK_ROOT ["0 1 2"]
#
# STEPS (default "ce ghm more") picks the groups above (1, 2, 3), e.g. to run
# two groups side by side, each in its own process:
#   STEPS=ce bash ... & STEPS=ghm bash ...
# Restartable like run_seeds.sh: a finished step (its last checkpoint, or
# for tau-norm its test metrics) is skipped, an unfinished training resumes
# exactly (--resume). One step at a time with THREADS (default 1) threads.
# Each step goes to WORK_ROOT/<config name>/seed<k>; tau-norm's tau is
# chosen by select_tau.py on training images the long-tailed construction
# left out (never the test set) and written to its folder as tau.json.
# Export the finished folders with collect_results.py export (docs/results.md).
set -uo pipefail
root=${1:?usage: run_decoupling.sh WORK_ROOT [SEEDS]}
seeds=${2:-0}
THREADS=${THREADS:-1}
cd "$(dirname "$0")/../.."
source tools/analysis/lib.sh
: "${CIFAR10_JPEG_ROOT:?set CIFAR10_JPEG_ROOT to the unpacked cifar10-jpeg folder (train/, test/)}"
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
c=configs
d=$c/decoupling
stage1() {  # CONFIG SEED
    PARALLEL=1 THREADS=$THREADS bash tools/analysis/run_seeds.sh "$root" "$2" "$1"
}
dir_of() { work_dir "$root" "$1" "$2"; }
stage2() {  # CONFIG SEED STAGE1_CONFIG
    local dir ckpt
    dir=$(dir_of "$1" "$2")
    final_checkpoint "$3" "$(dir_of "$3" "$2")"
    ckpt=$REPLY
    if [ ! -f "$ckpt" ]; then echo "missing $ckpt: skip $dir"; return; fi
    final_checkpoint "$1" "$dir"
    if [ -f "$REPLY" ]; then echo "skip $dir"; return; fi
    mkdir -p "$dir"
    echo "$(date +%T) start $dir"
    # --resume only a stage 2 already under way: with nothing to resume,
    # the auto-resume would clear load_from (the stage-1 weights)
    local resume=() rc
    if [ -f "$dir/last_checkpoint" ]; then resume=(--resume); fi
    python tools/train.py "$1" --work-dir "$dir" "${resume[@]}" \
        --cfg-options "randomness.seed=$2" "load_from=$ckpt" \
        > "$dir/train.out" 2>&1
    rc=$?
    echo "$(date +%T) done  $dir (exit $rc)"
}
taunorm() {  # SEED
    local cfg=$d/softmax-taunorm_resnet32_30e_cifar10jpeg-lt-if100.py dir ckpt tau
    dir=$(dir_of "$cfg" "$1")
    final_checkpoint "$ce" "$(dir_of "$ce" "$1")"
    ckpt=$REPLY
    if [ ! -f "$ckpt" ]; then echo "missing $ckpt: skip $dir"; return; fi
    if compgen -G "$dir/2*/2*.json" > /dev/null; then echo "skip $dir"; return; fi
    mkdir -p "$dir"
    echo "$(date +%T) start $dir"
    python tools/analysis/select_tau.py "$cfg" "$ckpt" --out "$dir/tau.json" \
        > "$dir/select_tau.out" 2>&1 || { echo "select_tau failed: $dir"; return; }
    tau=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['tau'])" "$dir/tau.json")
    python tools/test.py "$cfg" "$ckpt" --work-dir "$dir" \
        --cfg-options "model.head.tau=$tau" > "$dir/test.out" 2>&1
    local rc=$?
    echo "$(date +%T) done  $dir (tau $tau, exit $rc)"
}
ce=$c/softmax/softmax_resnet32_30e_cifar10jpeg-lt-if100.py
ghm=$c/ghm_cwap/ghm-cwap_resnet32_30e_cifar10jpeg-lt-if100.py
bs=$c/balanced_softmax/balanced-softmax_resnet32_30e_cifar10jpeg-lt-if100.py
steps=" ${STEPS:-ce ghm more} "
for seed in $seeds; do
    if [[ $steps == *" ce "* ]]; then
        stage1 "$ce" "$seed"
        stage2 "$d/softmax-crt_resnet32_30e_cifar10jpeg-lt-if100.py" "$seed" "$ce"
        stage2 "$d/softmax-lws_resnet32_30e_cifar10jpeg-lt-if100.py" "$seed" "$ce"
        taunorm "$seed"
    fi
    if [[ $steps == *" ghm "* ]]; then
        stage1 "$ghm" "$seed"
        stage2 "$d/ghm-cwap-crt_resnet32_30e_cifar10jpeg-lt-if100.py" "$seed" "$ghm"
    fi
    if [[ $steps == *" more "* ]] && \
            [ "${ONE_SEED_TOO:-$([ "$seed" = 0 ] && echo 1 || echo 0)}" = 1 ]; then
        stage1 "$bs" "$seed"
        stage2 "$d/balanced-softmax-crt_resnet32_30e_cifar10jpeg-lt-if100.py" "$seed" "$bs"
        for s in cb sqrt pb; do
            stage1 "$d/softmax-$s-sampler_resnet32_30e_cifar10jpeg-lt-if100.py" "$seed"
        done
    fi
done
