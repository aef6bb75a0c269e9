-- What the statusline shows: the work that reported progress last ($/progress), else the
-- server's state (fathom/status). The plugin's `state` table holds both; tests read it too.
local M = {}

local progress_seq = 0

--- $/progress, kept in `state` (then Neovim's own handler); `redraw` refreshes the statusline.
function M.progress_handler(state, redraw, err, result, ctx, config)
  local value = result and result.value or {}
  local token = result and result.token
  state.progress_by_token = state.progress_by_token or {}
  local seen = state.progress_by_token
  if value.kind == 'end' then
    seen[token] = nil
  elseif value.kind then
    progress_seq = progress_seq + 1
    local title = value.title or (seen[token] and seen[token].title) or ''
    seen[token] = { title = title, message = value.message, percentage = value.percentage,
      seq = progress_seq }
  end
  -- The statusline shows the work that reported last.
  state.progress = nil
  for _, p in pairs(seen) do
    if not state.progress or p.seq > state.progress.seq then
      state.progress = p
    end
  end
  redraw()
  local default = vim.lsp.handlers['$/progress']
  if default then
    return default(err, result, ctx, config)
  end
end

--- For 'statusline': "Fathom: ready", "Fathom: editing x.py 120 tokens, 3.2 s", ...
function M.statusline(state)
  local progress = state.progress
  if progress then
    local text = progress.title:gsub('^Fathom: ', '')
    if progress.message and progress.message ~= '' then
      text = text .. ' ' .. progress.message
    end
    return 'Fathom: ' .. text
  end
  local status = state.status
  if not status then
    return ''
  end
  if status.state == 'error' then
    return 'Fathom: error'
  end
  return 'Fathom: ' .. status.state
end

return M
