#!/usr/bin/env bash
# The system packages the editor clients' tests need (scripts/setup.sh --test runs this).
# As root (CI) it installs the missing ones with apt-get. Otherwise it names them and the
# command that installs them, and fails: a setup script must not ask for sudo by itself.
set -euo pipefail

missing=()
command -v nvim >/dev/null || missing+=(neovim)  # the Neovim plugin's headless tests
# The VS Code workbench tests (scripts/install-vscode-test.sh): the browser that drives it, and
# what code-server's native modules build with.
command -v chromium >/dev/null || missing+=(chromium)
command -v krb5-config >/dev/null || missing+=(libkrb5-dev)
command -v g++ >/dev/null || missing+=(build-essential)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "Missing system packages for the editor tests: ${missing[*]}" >&2
    echo "Install them, then run setup again:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
{ apt-get install -y -q "${missing[@]}" ||
    { apt-get update -q && apt-get install -y -q "${missing[@]}"; }; } >/dev/null || {
    echo "apt-get could not install: ${missing[*]}" >&2
    exit 1
}
