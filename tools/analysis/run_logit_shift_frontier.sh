#!/usr/bin/env bash
# The post-hoc logit-shift study of README's "Where GHM-CWAP trails its
# peers" (results/benchmarks/logit_shift_frontier_cpu.json), from the
# 30-epoch CIFAR-10-LT runs that tools/analysis/run_seeds.sh leaves:
#
#   export CIFAR10_JPEG_ROOT=/path/to/cifar10-jpeg
#   bash tools/analysis/run_logit_shift_frontier.sh WORK_ROOT [OUT]
#
# For every method below and every WORK_ROOT/<config>/seed<k>/epoch_30.pth
# it writes the test predictions once (tools/test.py --out, into
# WORK_ROOT/_predictions; an existing file is reused), then runs
# tools/analysis/logit_shift_frontier.py over them with cross-entropy as
# the reference and GHM-CWAP as the method whose tail gain the target asks
# to keep. METHODS and DEVICE can be overridden from the environment.
# LDAM-DRW is left out: its head outputs cosines in [-1, 1] and LDAMLoss
# scales them by s = 30 only inside the loss, so its test-time scores are
# in other units than log n and one tau grid does not fit both.
set -euo pipefail
root=$1
out=${2:-results/benchmarks/logit_shift_frontier_cpu.json}
cd "$(dirname "$0")/../.."
METHODS=${METHODS:-"softmax seesaw-mmpretrain balanced-softmax ghm-cwap \
ghm-cwap-r ghm-cwap-deferred ghm-cwap-2sided"}
DEVICE=${DEVICE:-"cpu: 2-core x86_64 (trained with tools/train.py, 1 thread a run, 2 runs side by side; predictions by tools/test.py)"}
preds=$root/_predictions
mkdir -p "$preds"
args=()
groups=
for method in $METHODS; do
    name=${method}_resnet32_30e_cifar10jpeg-lt-if100
    config=$(ls configs/*/"$name".py)
    files=()
    for ckpt in "$root/$name"/seed*/epoch_30.pth; do
        [ -f "$ckpt" ] || continue
        seed=$(basename "$(dirname "$ckpt")")
        pkl=$preds/${name}_$seed.pkl
        if [ ! -f "$pkl" ]; then
            echo "$(date +%T) predictions of $name $seed"
            python tools/test.py "$config" "$ckpt" --out "${pkl%.pkl}.part.pkl" \
                --work-dir "$preds/work" --cfg-options \
                "test_evaluator.1.out_file=$preds/${name}_${seed}_groups.json" \
                > "$preds/${name}_$seed.log" 2>&1
            mv "${pkl%.pkl}.part.pkl" "$pkl"
        fi
        files+=("$pkl")
        groups=${groups:-$preds/${name}_${seed}_groups.json}
    done
    if [ ${#files[@]} -gt 0 ]; then args+=(--run "$method" "${files[@]}"); fi
done
if [ -z "$groups" ]; then
    echo "no WORK_ROOT/<config>/seed<k>/epoch_30.pth under $root" >&2
    exit 1
fi
python tools/analysis/logit_shift_frontier.py "${args[@]}" \
    --groups "$groups" --reference softmax --method ghm-cwap \
    --taus -2 1.5 0.05 --fixed-tau 1 --device "$DEVICE" \
    --note "data=CIFAR-10-LT (JPEG copy), IF 100; the balanced 10,000-image test set" \
    --note "checkpoints=the last (epoch 30) of each run of results/cifar10jpeg-lt-if100_30e_cpu" \
    --out "$out"
