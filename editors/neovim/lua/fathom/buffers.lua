-- What the suggestion features (ghost text, next edits) keep per buffer: a debounce timer, and
-- autocmds in a group of their own that end with the buffer.
local M = {}

local rpc = require('fathom.rpc')

local api = vim.api
local uv = vim.uv or vim.loop

--- Stop `s.timer` if it runs.
function M.stop_timer(s)
  if s.timer then
    s.timer:stop()
    s.timer:close()
    s.timer = nil
  end
end

--- Stop the timer and cancel `s.request_id` (the server aborts the model's work for it).
function M.quiet(s)
  M.stop_timer(s)
  if s.request_id then
    rpc.cancel(s.client, s.request_id)
    s.request_id = nil
  end
end

--- Run `fn` on the main loop in `delay_ms`, replacing `s.timer`'s earlier run.
function M.restart_timer(s, delay_ms, fn)
  M.stop_timer(s)
  s.timer = uv.new_timer()
  s.timer:start(delay_ms, 0, vim.schedule_wrap(function()
    M.stop_timer(s)
    fn()
  end))
end

--- Autocmds for `bufnr` in the group `name`_`bufnr`: `handlers` is a list of
--- `{ events, callback }`; `on_wipe` runs when the buffer goes.
function M.watch(name, bufnr, handlers, on_wipe)
  local group = api.nvim_create_augroup(name .. '_' .. bufnr, { clear = true })
  for _, handler in ipairs(handlers) do
    api.nvim_create_autocmd(handler[1], { group = group, buffer = bufnr, callback = handler[2] })
  end
  api.nvim_create_autocmd('BufWipeout', { group = group, buffer = bufnr, callback = on_wipe })
end

return M
