#!/usr/bin/env bash
# Build the second ("downstream") environment: MMDetection 3.3 + MMSegmentation
# 1.2 + MMPretrain 1.2 on full mmcv 2.1.0 with compiled ops, plus mmghm
# (editable, from this checkout).
#
# Why a separate environment: MMDetection/MMSegmentation need full mmcv with
# its compiled ops. mmcv 2.1.0 has no wheel for this Python/torch and its ops do
# not compile against torch 2.14 (they need C++20 there), but they do against
# torch 2.9.1. The main environment (.venv, torch 2.14.1 + mmcv-lite) is kept
# as it is.
#
# Usage: bash tools/install_downstream.sh [VENV_DIR]   (default: .venv-downstream)
#
# Idempotent: a complete environment is detected (by importing the libraries,
# a few seconds) and left alone. The slow step is compiling mmcv (about 7
# minutes on 2 idle cores); pip keeps the built wheel in its cache
# (~/.cache/pip/wheels), so a fresh environment later, e.g. in CI, reuses it
# and takes 2-3 minutes (mostly unpacking torch and its CUDA libraries).
#
# Environment variables: PYTHON (interpreter for the venv, default python3),
# MAX_JOBS (parallel compile jobs for mmcv, default 2).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${REPO_ROOT}/.venv-downstream}"
PYTHON="${PYTHON:-python3}"
export MAX_JOBS="${MAX_JOBS:-2}"

TORCH_VERSION=2.9.1
TORCHVISION_VERSION=0.24.1
MMCV_VERSION=2.1.0
MMDET_VERSION=3.3.0
MMSEG_VERSION=1.2.2
MMPRETRAIN_VERSION=1.2.0

log() { echo "[install_downstream $(date +%H:%M:%S)] $*"; }

# What the environment was built from: this recipe and mmghm's runtime
# requirements. A change to either rebuilds (pip then only adds what is new).
STAMP_FILE="${VENV}/.mmghm-downstream-stamp"
STAMP="$(cat "${BASH_SOURCE[0]}" "${REPO_ROOT}/requirements/runtime.txt" |
    sha256sum | cut -d' ' -f1)"

# Exit status 0 iff the environment in $VENV is complete and imports cleanly.
check_env() {
    [ -x "${VENV}/bin/python" ] || return 1
    [ "$(cat "${STAMP_FILE}" 2>/dev/null)" = "${STAMP}" ] || return 1
    "${VENV}/bin/python" - "${REPO_ROOT}" <<EOF >/dev/null 2>&1
import os, sys
from importlib.metadata import version
want = {'torch': '${TORCH_VERSION}', 'torchvision': '${TORCHVISION_VERSION}',
        'mmcv': '${MMCV_VERSION}', 'mmdet': '${MMDET_VERSION}',
        'mmsegmentation': '${MMSEG_VERSION}', 'mmpretrain': '${MMPRETRAIN_VERSION}'}
for name, ver in want.items():
    got = version(name).split('+')[0]
    assert got == ver, (name, got, ver)
import mmcv.ops  # compiled ops present
from mmcv.ops import nms  # noqa: F401
import mmdet.models, mmseg.models, mmpretrain.models  # noqa: F401
import mmghm
# mmghm must be the editable install of this checkout.
assert os.path.realpath(os.path.dirname(mmghm.__file__)).startswith(
    os.path.realpath(sys.argv[1])), mmghm.__file__
import pytest  # noqa: F401
EOF
}

if check_env; then
    log "environment ${VENV} is complete; nothing to do"
    exit 0
fi

if [ ! -x "${VENV}/bin/python" ]; then
    log "creating venv ${VENV} with $(${PYTHON} --version)"
    "${PYTHON}" -m venv "${VENV}"
fi
PIP=("${VENV}/bin/python" -m pip)
# pip install, without the noise of this machine's local index mirrors.
pip_install() {
    "${PIP[@]}" install --progress-bar off "$@" 2>&1 | {
        grep -v -e '^WARNING: Location' -e '^Requirement already satisfied' ||
            true
    }
}

log "torch ${TORCH_VERSION} and build tools"
pip_install "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
    'setuptools<70' ninja wheel

log "mmcv ${MMCV_VERSION} with ops (compiled once, then reused from pip's wheel cache)"
MMCV_WITH_OPS=1 export MMCV_WITH_OPS
# Without debug information and at -O1 (appended to Python's "-g -O3", so
# they win): the ops serve a few small calls in the tests, and compiling
# takes about half the CPU time (two of mmcv's op files, g++ 12: 16.6 ->
# 9.2 s and 27.8 -> 14.6 s). MMCV_CFLAGS= (empty) keeps the defaults.
( export CFLAGS="${CFLAGS:-} ${MMCV_CFLAGS--g0 -O1}"
  pip_install --no-build-isolation "mmcv==${MMCV_VERSION}" )

log "MMDetection, MMSegmentation, MMPretrain, mmghm's requirements, pytest"
# Pins keep pip from touching torch/mmcv while resolving.
pip_install "mmdet==${MMDET_VERSION}" "mmsegmentation==${MMSEG_VERSION}" \
    "mmpretrain==${MMPRETRAIN_VERSION}" "mmcv==${MMCV_VERSION}" \
    "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" \
    ftfy regex pytest -r "${REPO_ROOT}/requirements/runtime.txt"

log "mmghm (editable, no dependencies: they are all above)"
pip_install --no-build-isolation --no-deps -e "${REPO_ROOT}"
echo "${STAMP}" > "${STAMP_FILE}"

if ! check_env; then
    log "environment is still incomplete; the failing import:"
    "${VENV}/bin/python" -c "import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models, mmghm" || true
    exit 1
fi
log "done: ${VENV}"
