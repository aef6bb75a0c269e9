-- Ghost text: Fathom's inline completion (textDocument/inlineCompletion) as you type.
--
-- Neovim 0.12+ shows it with its own vim.lsp.inline_completion; on 0.7-0.11 this module does:
-- a request a moment after the last keystroke (a newer one cancels the older, so the server
-- aborts the model's work), the suggestion as virtual text at the cursor (its further lines
-- as virtual lines), gone as soon as you type on or leave insert mode. The accept key
-- (`keys.accept_completion`, <Tab> by default) inserts it and tells the server it was taken
-- (the item's command: the journal counts acceptance); without a suggestion the key does
-- what it did before.
local buffers = require('fathom.buffers')
local rpc = require('fathom.rpc')

local M = {}

local api = vim.api
local ns = api.nvim_create_namespace('fathom_ghost')
local state = {} -- bufnr -> { client, timer, request_id, tick, item }

--- Whether Neovim itself shows inline completions (0.12+).
M.native = vim.lsp.inline_completion ~= nil


--- Hide the suggestion and drop the request that was to bring one.
function M.clear(bufnr)
  local s = state[bufnr]
  if not s then
    return
  end
  pcall(api.nvim_buf_clear_namespace, bufnr, ns, 0, -1)
  s.item = nil
  buffers.quiet(s)
end

local function item_text(item)
  local text = item.insertText
  if type(text) == 'table' then
    return nil -- a snippet: Fathom sends plain text
  end
  return text
end

-- Show `item` at the cursor: only what it adds to what is already typed.
local function show(bufnr, item, encoding)
  local text = item_text(item)
  if not text or text == '' then
    return
  end
  local row, col = unpack(api.nvim_win_get_cursor(0))
  row = row - 1
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  if item.range and item.range.start.line == row then
    local start = rpc.byte_col(line, item.range.start.character, encoding)
    local typed = line:sub(start + 1, col)
    if text:sub(1, #typed) ~= typed then
      return -- the suggestion no longer fits what is typed
    end
    text = text:sub(#typed + 1)
  end
  local lines = vim.split(text, '\n', { plain = true })
  local rest = {}
  for i = 2, #lines do
    table.insert(rest, { { lines[i], 'Comment' } })
  end
  local position = 'eol'
  if vim.fn.has('nvim-0.10') == 1 then
    position = 'inline'
  elseif col >= #line then
    position = 'overlay'
  end
  api.nvim_buf_set_extmark(bufnr, ns, row, col, {
    virt_text = { { lines[1], 'Comment' } },
    virt_text_pos = position,
    virt_lines = #rest > 0 and rest or nil,
    hl_mode = 'combine',
  })
  state[bufnr].item = { lines = lines, row = row, col = col, command = item.command }
end

--- Ask for a suggestion at the cursor now (the keystroke's timer calls it).
function M.request(bufnr)
  local s = state[bufnr]
  if not s or api.nvim_get_current_buf() ~= bufnr then
    return
  end
  M.clear(bufnr)
  local client = s.client
  local encoding = client.offset_encoding or 'utf-16'
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = rpc.cursor_position(client),
    context = { triggerKind = 2 }, -- automatic: as the user types
  }
  local id
  id = rpc.request(client, 'textDocument/inlineCompletion', params, function(err, result)
    if s.request_id ~= id then
      return -- superseded (and cancelled)
    end
    s.request_id = nil
    if err or not result or api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return
    end
    if not api.nvim_get_mode().mode:match('^i') or api.nvim_get_current_buf() ~= bufnr then
      return
    end
    local items = result.items or result
    if items[1] then
      show(bufnr, items[1], encoding)
    end
  end, bufnr)
  s.request_id = id
end

local function schedule(bufnr, delay_ms)
  M.clear(bufnr)
  buffers.restart_timer(state[bufnr], delay_ms, function()
    M.request(bufnr)
  end)
end

--- Insert the suggestion shown in the current buffer. Returns false when there is none.
function M.accept()
  if M.native then
    return vim.lsp.inline_completion.get() == true
  end
  local bufnr = api.nvim_get_current_buf()
  local s = state[bufnr]
  local item = s and s.item
  if not item then
    return false
  end
  vim.schedule(function()
    M.clear(bufnr)
    api.nvim_buf_set_text(bufnr, item.row, item.col, item.row, item.col, item.lines)
    local last = item.lines[#item.lines]
    local col = (#item.lines == 1 and item.col or 0) + #last
    api.nvim_win_set_cursor(0, { item.row + #item.lines, col })
    rpc.execute(s.client, item.command, bufnr)
  end)
  return true
end

--- Whether a suggestion is shown in `bufnr` (what tests and statuslines read).
function M.shown(bufnr)
  if M.native then
    local native = api.nvim_get_namespaces()['nvim.lsp.inline_completion']
    return native ~= nil and #api.nvim_buf_get_extmarks(bufnr, native, 0, -1, {}) > 0
  end
  local s = state[bufnr or api.nvim_get_current_buf()]
  return s ~= nil and s.item ~= nil
end

--- Start ghost text in `bufnr` for `client` with the plugin's `config`.
function M.attach(client, bufnr, config)
  local key = config.keys.accept_completion
  if key then
    vim.keymap.set('i', key, function()
      if M.accept() then
        return ''
      end
      return api.nvim_replace_termcodes(key, true, false, true)
    end, { buffer = bufnr, expr = true, desc = 'Fathom: accept the suggestion' })
  end
  if M.native then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    return
  end
  if state[bufnr] then
    state[bufnr].client = client
    return
  end
  state[bufnr] = { client = client }
  buffers.watch('fathom_ghost', bufnr, {
    {
      { 'TextChangedI', 'CursorMovedI', 'InsertEnter' },
      function()
        schedule(bufnr, config.completion_delay_ms)
      end,
    },
    { { 'InsertLeave', 'BufLeave' }, function() M.clear(bufnr) end },
  }, function()
    M.clear(bufnr)
    state[bufnr] = nil
  end)
end

return M
