-- Next-edit suggestions (fathom/nextEdit): after you change a buffer, Fathom proposes the edit
-- you are likely to make next, from your recent edits and the code around the cursor.
--
-- A suggestion is shown in place as a preview: the lines it replaces highlighted as removed,
-- its new lines below them as virtual lines, and a hint. `keys.accept_next_edit` (<Tab>) takes
-- it, `keys.dismiss_next_edit` (<Esc>) drops it; both keys are mapped only while one is shown.
-- A suggestion is for one version of the buffer: one made stale by a later change is dropped,
-- never applied. Requests follow a pause after a change in normal mode or leaving insert mode
-- (a newer request cancels the older); :FathomNextEdit asks at once.
local buffers = require('fathom.buffers')
local rpc = require('fathom.rpc')

local M = {}

local api = vim.api
local ns = api.nvim_create_namespace('fathom_next_edit')
local state = {} -- bufnr -> { client, config, timer, request_id, shown }


local function unmap(bufnr, s)
  for _, key in ipairs(s.mapped or {}) do
    pcall(vim.keymap.del, 'n', key, { buffer = bufnr })
  end
  s.mapped = nil
end

--- Drop the shown suggestion (and any request that was to bring one).
function M.dismiss(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = state[bufnr]
  if not s then
    return
  end
  pcall(api.nvim_buf_clear_namespace, bufnr, ns, 0, -1)
  unmap(bufnr, s)
  s.shown = nil
  buffers.quiet(s)
end

-- The rows [first, last] (0-based, inclusive) an edit of whole lines replaces.
local function rows(range)
  local last = range['end'].line
  if range['end'].character == 0 and last > range.start.line then
    last = last - 1
  end
  return range.start.line, last
end

local function new_lines(text)
  local lines = vim.split(text, '\n', { plain = true })
  if lines[#lines] == '' then
    table.remove(lines)
  end
  return lines
end

local function show(bufnr, edit)
  local s = state[bufnr]
  local first, last = rows(edit.range)
  local count = api.nvim_buf_line_count(bufnr)
  if first >= count then
    return
  end
  last = math.min(last, count - 1)
  for row = first, last do
    local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    api.nvim_buf_set_extmark(bufnr, ns, row, 0, {
      end_row = row,
      end_col = #line,
      hl_group = 'DiffDelete',
    })
  end
  local below = {}
  for _, line in ipairs(new_lines(edit.text)) do
    table.insert(below, { { line, 'DiffAdd' } })
  end
  local keys = s.config.keys
  table.insert(below, { {
    string.format('Fathom next edit: %s accept, %s dismiss', keys.accept_next_edit,
      keys.dismiss_next_edit),
    'Comment',
  } })
  api.nvim_buf_set_extmark(bufnr, ns, last, 0, { virt_lines = below })
  s.shown = edit
  s.mapped = {}
  for key, action in pairs({ [keys.accept_next_edit] = M.accept, [keys.dismiss_next_edit] = M.dismiss }) do
    vim.keymap.set('n', key, function()
      action(bufnr)
    end, { buffer = bufnr, desc = 'Fathom: next edit' })
    table.insert(s.mapped, key)
  end
end

--- Ask for the next edit at the cursor of `bufnr` now. `on_done(err, shown)` is optional.
function M.request(bufnr, on_done)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = state[bufnr]
  on_done = on_done or function() end
  if not s then
    return on_done('Fathom is not attached to this buffer', false)
  end
  M.dismiss(bufnr)
  local version = rpc.version(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr), version = version },
    position = rpc.cursor_position(s.client),
  }
  local id
  id = rpc.request(s.client, 'fathom/nextEdit', params, function(err, result)
    if s.request_id ~= id then
      return on_done('superseded', false)
    end
    s.request_id = nil
    if err then
      return on_done(err.message, false)
    end
    for _, edit in ipairs(result and result.edits or {}) do
      -- Only a suggestion for the version the buffer still has.
      if edit.textDocument.version == rpc.version(bufnr) then
        show(bufnr, edit)
        return on_done(nil, true)
      end
    end
    on_done(nil, false)
  end, bufnr)
  s.request_id = id
end

--- Apply the shown suggestion to `bufnr`, if the buffer is still the version it was for.
function M.accept(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = state[bufnr]
  local edit = s and s.shown
  if not edit then
    return false
  end
  M.dismiss(bufnr)
  if edit.textDocument.version ~= rpc.version(bufnr) then
    vim.notify('Fathom: the buffer changed since the suggestion; it was dropped',
      vim.log.levels.INFO)
    return false
  end
  local encoding = s.client.offset_encoding or 'utf-16'
  vim.lsp.util.apply_text_edits({ { range = edit.range, newText = edit.text } }, bufnr, encoding)
  rpc.execute(s.client, edit.command, bufnr)
  return true
end

--- Whether a suggestion is shown in `bufnr`.
function M.shown(bufnr)
  local s = state[bufnr or api.nvim_get_current_buf()]
  return s ~= nil and s.shown ~= nil
end

local function schedule(bufnr)
  local s = state[bufnr]
  M.dismiss(bufnr)
  buffers.restart_timer(s, s.config.next_edit_delay_ms, function()
    if api.nvim_get_current_buf() == bufnr and api.nvim_get_mode().mode == 'n' then
      M.request(bufnr)
    end
  end)
end

--- Offer next edits in `bufnr` for `client`. With `config.next_edit` false, only on request.
function M.attach(client, bufnr, config)
  if state[bufnr] then
    state[bufnr].client = client
    return
  end
  state[bufnr] = { client = client, config = config }
  local handlers = {
    { { 'TextChangedI', 'InsertEnter', 'BufLeave' }, function() M.dismiss(bufnr) end },
  }
  if config.next_edit then
    table.insert(handlers, { { 'TextChanged', 'InsertLeave' }, function() schedule(bufnr) end })
  end
  buffers.watch('fathom_next_edit', bufnr, handlers, function()
    M.dismiss(bufnr)
    state[bufnr] = nil
  end)
end

return M
