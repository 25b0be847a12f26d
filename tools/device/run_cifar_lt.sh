#!/usr/bin/env bash
# The CIFAR-10-LT IF 100 row of the paper's Table 1 (CE, Seesaw, GHM-CWAP,
# LDAM-DRW, Balanced Softmax; 200 epochs each, LDAM-DRW's schedule) on one
# GPU in one call, with the reproduction harness
# (tools/analysis/reproduce_cifar_lt.py): the five models train side by
# side on the device, from an image pack of the JPEG CIFAR-10-LT, and one
# result file per model (mmghm.run_result/1) comes back in $OUT/results.tar.
#
# Made for the `run` tool's H200 (torch + CUDA, numpy, opencv, no OpenMMLab
# packages, nothing to download, 64 MiB may travel). How a session runs it:
#
# 1. Prepare, here, in the root of the checkout that `run` sends (the
#    session's own repository, e.g. /work/main), with the project's venv:
#
#      mkdir -p .device-data && git rev-parse HEAD > .device-data/COMMIT
#      python tools/analysis/pack_cifar_lt.py \
#          configs/ghm_cwap/ghm-cwap_resnet32_200e_cifar10jpeg-lt-if100.py \
#          --zip ../shared/data/cifar10-jpeg.zip \
#          --out .device-data/cifar10jpeg-lt-if100.npz         # 6.5 MiB
#      bash ../shared/tools/device-wheels.sh .device-wheels    # about 10 MB
#
#    Both folders are git-ignored. (device-wheels.sh appends to
#    .git/info/exclude, which fails in a git worktree, where .git is a
#    file: there run it in a scratch `git init` folder and move the folder.)
#    The project's losses must be sync-free for the steps to be
#    captured in CUDA graphs; a loss that still syncs trains eagerly, which
#    is several times slower, and the run then stops at the time limit.
#
# 2. Run (one call, about 8 minutes; the time limit leaves a margin):
#
#      run(command="bash tools/device/run_cifar_lt.sh",
#          carry=[".device-wheels", ".device-data"], timeout_s=560)
#
#    Environment knobs: BUDGET_S (seconds for everything before the final
#    evaluation, default 480), SEEDS (default "0"), EXTRA (more harness
#    flags, e.g. "--bf16" only after a fp32-vs-bf16 comparison). A dry run
#    of the whole script on a CPU, with a python that lacks the OpenMMLab
#    packages: PYTHON=... DEVICE=cpu EXTRA="--epochs 1 --max-train 256
#    --max-test 300" bash tools/device/run_cifar_lt.sh
#
# 3. Bring the results home: the reply's files_at holds log.txt and
#    results.tar;  mkdir -p results && tar -C results -xf <files_at>/results.tar
#    then commit results/<suite>/... (suite cifar10jpeg-lt-if100_200e_h200,
#    or ..._partial when the time limit cut the schedule short: those are
#    not 200-epoch results and say at which epoch they stopped).
#    give_back() unless another run follows at once.
set -uo pipefail
START=$(date +%s)
OUT=${OUT:-/tmp/mmghm-device-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
BUDGET_S=${BUDGET_S:-480}
SEEDS=${SEEDS:-0}
EXTRA=${EXTRA:-}
PYTHON=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
SITE=/tmp/mmghm-site
PACK=.device-data/cifar10jpeg-lt-if100.npz
RESULTS=/tmp/mmghm-results-$$

echo "== stack =="
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$SITE" .device-wheels/*.whl || exit 3
export PYTHONPATH=$SITE:$PWD
export MMGHM_COMMIT
MMGHM_COMMIT=$(cat .device-data/COMMIT 2>/dev/null || echo unknown)
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
    --format=csv,noheader || true
"$PYTHON" - "$DEVICE" <<'EOF' || exit 4
import sys
import cv2, numpy, torch, mmcv, mmengine, mmpretrain, mmghm
gpu = torch.cuda.get_device_name(0) if sys.argv[1] != 'cpu' else 'cpu'
print('torch', torch.__version__, 'cuda', torch.version.cuda, gpu,
      '| numpy', numpy.__version__,
      '| opencv', cv2.__version__, '| mmengine', mmengine.__version__,
      '| mmpretrain', mmpretrain.__version__, '| mmghm', mmghm.__version__)
EOF
[ -f "$PACK" ] || { echo "missing $PACK: see step 1 of this script"; exit 5; }

echo "== train (setup took $(( $(date +%s) - START )) s) =="
LIMIT=$(( BUDGET_S - ($(date +%s) - START) ))
# shellcheck disable=SC2086
"$PYTHON" tools/analysis/reproduce_cifar_lt.py \
    configs/softmax/softmax_resnet32_200e_cifar10jpeg-lt-if100.py \
    configs/seesaw/seesaw_resnet32_200e_cifar10jpeg-lt-if100.py \
    configs/ghm_cwap/ghm-cwap_resnet32_200e_cifar10jpeg-lt-if100.py \
    configs/ldam_drw/ldam-drw_resnet32_200e_cifar10jpeg-lt-if100.py \
    configs/balanced_softmax/balanced-softmax_resnet32_200e_cifar10jpeg-lt-if100.py \
    --pack "$PACK" --device "$DEVICE" --seeds $SEEDS --check-graphs \
    --eval-interval 20 --time-limit "$LIMIT" --out-dir "$RESULTS" $EXTRA
status=$?

echo "== results (exit $status, $(( $(date +%s) - START )) s in all) =="
if [ -d "$RESULTS" ]; then
    tar -C "$RESULTS" -cf "$OUT/results.tar" . && tar -tf "$OUT/results.tar"
fi
exit $status
