#!/usr/bin/env bash
# Train configs with several seeds through tools/train.py, N at a time.
#
#   bash tools/analysis/run_seeds.sh WORK_ROOT "0 1 2" CONFIG [CONFIG ...]
#
# Each run goes to WORK_ROOT/<config name>/seed<k> (randomness.seed=k; the
# long-tailed subset keeps its own seed, so every run sees the same images).
# A run whose final checkpoint exists is skipped, so the script can be
# restarted. PARALLEL (default 2) runs at a time, each with THREADS (default
# 1) threads; EXTRA holds more --cfg-options for every run and TRAIN_FLAGS
# more tools/train.py flags (e.g. --channels-last). Export the
# results afterwards with tools/analysis/collect_results.py.
set -uo pipefail
root=$1; seeds=$2; shift 2
PARALLEL=${PARALLEL:-2}; THREADS=${THREADS:-1}; EXTRA=${EXTRA:-}
cd "$(dirname "$0")/../.."
source tools/analysis/lib.sh
run() {
    local config=$1 seed=$2 dir
    dir=$(work_dir "$root" "$config" "$seed")
    final_checkpoint "$config" "$dir"
    if [ -f "$REPLY" ]; then echo "skip $dir"; return; fi
    mkdir -p "$dir"
    echo "$(date +%T) start $dir"
    OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS python tools/train.py "$config" \
        --work-dir "$dir" --resume ${TRAIN_FLAGS:-} --cfg-options "randomness.seed=$seed" $EXTRA \
        > "$dir/train.out" 2>&1
    local rc=$?
    echo "$(date +%T) done  $dir (exit $rc)"
}
jobs_list=()
for seed in $seeds; do for config in "$@"; do jobs_list+=("$config $seed"); done; done
for job in "${jobs_list[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do sleep 10; done
    run $job &
done
wait
