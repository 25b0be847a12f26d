#!/usr/bin/env bash
# The device checks on a GPU machine that has torch with CUDA
# but no OpenMMLab packages (sized for under 5 minutes on one H200).
#
# Here, once, from the repository root (fills the git-ignored .device-wheels/
# with mmengine, mmcv-lite, mmpretrain and their pure-Python dependencies):
#     bash ../shared/tools/device-wheels.sh
# Then on the device, from the repository root, with .device-wheels carried:
#     bash tools/device/run_benchmarks.sh            # writes to $OUT
# (the device tool's call: run(command="bash tools/device/run_benchmarks.sh",
#  carry=[".device-wheels"], timeout_s=420)).
#
# What it writes to $OUT (or /tmp/mmghm_device_out): environment.txt,
# log.txt, summary.md (tables and the speed targets) and the result files
# losses_cuda.json, train_speed_cuda.json, dense_loss_cuda.json,
# losses_cuda_compiled.json (copy those to results/benchmarks/ to generate
# README tables from them).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/mmghm_device_out}"
mkdir -p "$OUT"
WHEELS="${WHEELS:-.device-wheels}"
SITE="${SITE:-/tmp/site}"
PY="${PYTHON:-python3}"

if ! "$PY" -c "import mmengine, mmpretrain" 2>/dev/null; then
    if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
        echo "no OpenMMLab packages and no wheels in $WHEELS: run" \
             "../shared/tools/device-wheels.sh here and carry $WHEELS" >&2
        exit 2
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --target "$SITE" "$WHEELS"/*.whl || exit 2
    export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv \
        2>/dev/null || echo "nvidia-smi: not available"
    "$PY" -c "import torch, mmengine, mmpretrain, mmcv; \
print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'device', torch.cuda.get_device_name() if torch.cuda.is_available() \
else None); print('mmengine', mmengine.__version__, 'mmcv', \
mmcv.__version__, 'mmpretrain', mmpretrain.__version__)"
} 2>&1 | tee "$OUT/environment.txt"

exec "$PY" tools/device/run_benchmarks.py --device "${DEVICE:-cuda}" \
    --out "$OUT" "$@"
