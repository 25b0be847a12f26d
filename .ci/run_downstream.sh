#!/usr/bin/env bash
# CI step for the MMDetection / MMSegmentation integration (called by
# .ci/run; set MMGHM_CI_DOWNSTREAM=0 there to skip it).
#
# 1. Builds the second environment with tools/install_downstream.sh: torch
#    2.9.1, full mmcv 2.1.0 with compiled ops, mmdet 3.3.0, mmsegmentation
#    1.2.2, mmpretrain 1.2.0 and mmghm (editable). mmcv is compiled once and
#    then reused from pip's wheel cache (~/.cache/pip); a complete
#    environment is reused as it is.
# 2. Runs tests/test_downstream with that environment's python: real
#    detectors and segmentors trained a few iterations through the Runner.
#
# DOWNSTREAM_VENV chooses the environment's folder (default: .venv-downstream
# in the checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
VENV="${DOWNSTREAM_VENV:-$PWD/.venv-downstream}"

echo "== downstream install (tools/install_downstream.sh) =="
MAX_JOBS="${MAX_JOBS:-2}" bash tools/install_downstream.sh "$VENV"
"$VENV/bin/python" -c "import torch, mmcv, mmdet, mmseg, mmpretrain, mmghm; \
print('torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', \
mmdet.__version__, '| mmseg', mmseg.__version__, '| mmpretrain', \
mmpretrain.__version__, '| mmghm', mmghm.__version__)"
installed=$(date +%s)
echo "downstream install took $(( installed - start )) s"

echo "== downstream tests =="
log=$(mktemp /tmp/mmghm-ci-downstream-XXXXXX.log)
set +e
OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}" "$VENV/bin/python" -m pytest \
    tests/test_downstream -q -p no:cacheprovider -rs 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo "downstream tests took $(( $(date +%s) - installed )) s"
if [ "$status" -eq 5 ]; then
    echo "pytest collected no downstream tests: failing" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    exit "$status"
fi
# In this environment nothing may be skipped: a skip here means the
# libraries did not import, which is exactly what this step checks.
if grep -qE "[0-9]+ skipped" "$log"; then
    echo "downstream tests were skipped in the downstream environment: failing" >&2
    exit 1
fi
if ! grep -qE "[0-9]+ passed" "$log"; then
    echo "no downstream test passed: failing" >&2
    exit 1
fi
