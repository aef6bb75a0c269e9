-- Workspace edits from the server: what a change would make of each buffer (computed in a
-- scratch buffer, so the preview and the applied edit come from the same code), a preview
-- split and a question when the server asks for confirmation, the version check Neovim 0.7
-- lacks, then Neovim's own apply_workspace_edit (undo works as usual).
local M = {}

-- -- positions -------------------------------------------------------------------------------
local function line_length(line, encoding)
  if encoding == 'utf-8' then
    return #line
  end
  if vim.fn.has('nvim-0.11') == 1 then
    return vim.str_utfindex(line, encoding)
  end
  local utf32, utf16 = vim.str_utfindex(line)
  return encoding == 'utf-32' and utf32 or utf16
end

--- An LSP range covering whole lines `first`..`last` (1-based, inclusive) of `bufnr`.
function M.line_range(bufnr, first, last, encoding)
  local text = vim.api.nvim_buf_get_lines(bufnr, last - 1, last, false)[1] or ''
  return {
    start = { line = first - 1, character = 0 },
    ['end'] = { line = last - 1, character = line_length(text, encoding or 'utf-16') },
  }
end

-- -- proposed changes ----------------------------------------------------------------------
local function needs_confirmation(edit)
  for _, annotation in pairs(edit.changeAnnotations or {}) do
    if annotation.needsConfirmation then
      return true
    end
  end
  return false
end

--- The text `bufnr` would have after `edits`, computed in a scratch buffer (the real buffer
--- is untouched): the preview and the applied edit come from the same code. The edits go in
--- without their annotation ids: Neovim 0.12 refuses annotated edits without the annotations
--- and would ask to confirm them, and a preview only computes text.
local function proposed_lines(bufnr, edits, encoding)
  local plain = {}
  for i, edit in ipairs(edits) do
    plain[i] = { range = edit.range, newText = edit.newText }
  end
  local scratch = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(scratch, 0, -1, false, vim.api.nvim_buf_get_lines(bufnr, 0, -1, false))
  local ok, err = pcall(vim.lsp.util.apply_text_edits, plain, scratch, encoding)
  local lines = vim.api.nvim_buf_get_lines(scratch, 0, -1, false)
  vim.api.nvim_buf_delete(scratch, { force = true })
  if not ok then
    error(err)
  end
  return lines
end

--- { label, files = { { uri, path, diff } }, operations } for a workspace edit.
function M.preview(params, encoding)
  local files, operations = {}, {}
  for _, change in ipairs(params.edit.documentChanges or {}) do
    if change.textDocument then
      local bufnr = vim.uri_to_bufnr(change.textDocument.uri)
      vim.fn.bufload(bufnr)
      local old = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
      local new = proposed_lines(bufnr, change.edits, encoding)
      local path = vim.uri_to_fname(change.textDocument.uri)
      local diff = vim.diff(table.concat(old, '\n') .. '\n', table.concat(new, '\n') .. '\n',
        { result_type = 'unified', ctxlen = 3 })
      table.insert(files, { uri = change.textDocument.uri, path = path, diff = diff, lines = new })
    elseif change.kind == 'rename' then
      table.insert(operations, 'rename ' .. change.oldUri .. ' -> ' .. change.newUri)
    elseif change.kind then
      table.insert(operations, change.kind .. ' ' .. change.uri)
    end
  end
  return { label = params.label or 'Fathom edit', files = files, operations = operations }
end

-- Show the proposed change in a split and ask; the split closes either way.
local function ask_in_split(preview)
  local text = {}
  for _, file in ipairs(preview.files) do
    table.insert(text, '--- ' .. file.path)
    table.insert(text, '+++ ' .. file.path .. ' (proposed)')
    vim.list_extend(text, vim.split(file.diff, '\n', { plain = true }))
  end
  vim.list_extend(text, preview.operations)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, text)
  vim.bo[buf].filetype = 'diff'
  vim.bo[buf].bufhidden = 'wipe'
  vim.cmd('botright split')
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, buf)
  vim.cmd('redraw')
  local choice = vim.fn.confirm(preview.label .. ': apply this change?', '&Apply\n&Discard', 1)
  if vim.api.nvim_win_is_valid(win) then
    vim.api.nvim_win_close(win, true)
  end
  return choice == 1
end

local function confirm(preview, setting)
  if type(setting) == 'function' then
    return setting(preview)
  end
  if setting == false then
    return true
  end
  return ask_in_split(preview)
end

--- The edit as Neovim's own apply_workspace_edit gets it once this plugin has checked the
--- versions and asked the user: its annotations (0.12 refuses annotated edits without them)
--- asking nothing more (0.12 would ask a second time), a null version as 0, which every
--- Neovim reads as "don't check" (0.7 compares null with a number and fails). Shallow
--- copies: 0.7's vim.deepcopy cannot copy vim.NIL.
local function settled(edit)
  local copy = vim.tbl_extend('force', {}, edit)
  if edit.changeAnnotations then
    copy.changeAnnotations = {}
    for id, annotation in pairs(edit.changeAnnotations) do
      copy.changeAnnotations[id] = vim.tbl_extend('force', annotation, { needsConfirmation = false })
    end
  end
  if edit.documentChanges then
    copy.documentChanges = {}
    for i, change in ipairs(edit.documentChanges) do
      local doc = change.textDocument
      if doc and doc.version == vim.NIL then
        change = vim.tbl_extend('force', change, { textDocument = { uri = doc.uri, version = 0 } })
      end
      copy.documentChanges[i] = change
    end
  end
  return copy
end

--- workspace/applyEdit: versions checked (Neovim 0.7 would skip a stale edit yet answer
--- "applied"), the change shown and confirmed when the server asks, then applied.
--- `confirm_setting`: the `confirm` option of setup (true, false or a function).
function M.apply_edit(params, client, confirm_setting)
  local encoding = client and client.offset_encoding or 'utf-16'
  local versions = vim.lsp.util.buf_versions or {}
  for _, change in ipairs(params.edit.documentChanges or {}) do
    local doc = change.textDocument
    if doc and doc.version ~= nil and doc.version ~= vim.NIL then
      local bufnr = vim.uri_to_bufnr(doc.uri)
      local now = versions[bufnr]
      if now ~= nil and now ~= doc.version then
        return {
          applied = false,
          failureReason = string.format('%s changed since Fathom read it (version %d, now %d)',
            vim.uri_to_fname(doc.uri), doc.version, now),
        }
      end
    end
  end
  if needs_confirmation(params.edit) then
    local ok, preview = pcall(M.preview, params, encoding)
    if not ok then
      return { applied = false, failureReason = 'the change does not fit the buffer: ' .. preview }
    end
    if not confirm(preview, confirm_setting) then
      return { applied = false, failureReason = 'the user discarded the proposed change' }
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, settled(params.edit), encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  return { applied = true }
end

return M
