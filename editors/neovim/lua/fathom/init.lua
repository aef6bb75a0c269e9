-- Fathom for Neovim: attaches `fathom serve` to buffers, adds :FathomEdit, :FathomReview,
-- :FathomRefactor, :FathomNextEdit, :FathomStatus and :FathomCancel, shows ghost text as you
-- type (fathom/ghost.lua) and next-edit suggestions (fathom/next_edit.lua), keeps the server's
-- status and progress for the statusline, and shows a proposed change before applying it when the edit asks
-- for confirmation. Edits go through Neovim's own LSP utilities (undo works as usual).
--
-- Neovim 0.10+ is the target (vim.lsp.start, vim.lsp.get_clients; client:request on 0.11+);
-- 0.7 works through vim.lsp.start_client and vim.lsp.buf_get_clients. Tests run 0.7 and 0.12.
local M = {}

local NAME = 'fathom'
local EDIT = 'fathom.edit'
local REVIEW = 'fathom.review'
local STATUS = 'fathom.status'
local EDIT_WITH_INSTRUCTION = 'fathom.editWithInstruction'

local defaults = {
  cmd = { 'fathom', 'serve' },
  -- Fathom's settings (engine, model, serverUrl, serverModel, contextBudget,
  -- maxOutputTokens, reviewSeverity, journalMaxDays, journalMaxMegabytes, editFormat,
  -- temperature, repetitionPenalty, retryTemperature), sent at start and on
  -- workspace/configuration.
  settings = {},
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'Cargo.toml', 'go.mod', '.hg' },
  -- Buffers to attach to: a list of filetypes, or nil for every file buffer.
  filetypes = nil,
  -- How a change that asks for confirmation is shown and accepted: true (a preview split
  -- and a question), false (apply at once), or function(preview) -> boolean.
  confirm = true,
  notify = true,
  -- Ghost text as you type (textDocument/inlineCompletion; Neovim 0.12+ shows it itself).
  inline_completion = true,
  completion_delay_ms = 150, -- the pause after a keystroke before asking (0.7-0.11)
  -- Suggestions of the next edit after a change (fathom/nextEdit); false: only on
  -- :FathomNextEdit.
  next_edit = true,
  next_edit_delay_ms = 500,
  -- Keys: accept_completion in insert mode; the next-edit keys in normal mode, mapped only
  -- while a suggestion is shown. A key set to false is not mapped.
  keys = { accept_completion = '<Tab>', accept_next_edit = '<Tab>', dismiss_next_edit = '<Esc>' },
}

M.config = vim.deepcopy(defaults)
-- What the statusline shows and tests read.
M.state = { status = nil, progress = nil, preview = nil, last_result = nil, last_error = nil }
M.pending = {} -- request id -> { client, method } of running edits and reviews

local uv = vim.uv or vim.loop
local ghost = require('fathom.ghost')
local next_edit = require('fathom.next_edit')
local rpc = require('fathom.rpc')

local function notify(message, level)
  if M.config.notify then
    vim.notify('Fathom: ' .. message, level or vim.log.levels.INFO)
  end
end

local function redraw()
  pcall(vim.cmd, 'redrawstatus')
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'FathomStatus', modeline = false })
end

-- `client:request(...)` on 0.11+, `client.request(...)` before.
local function request(client, method, params, handler, bufnr)
  if vim.fn.has('nvim-0.11') == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

-- Ghost text and next edits for a buffer the client has just attached to.
local function on_attach(client, bufnr)
  if M.config.inline_completion then
    ghost.attach(client, bufnr, M.config)
  end
  next_edit.attach(client, bufnr, M.config)
end

local function get_clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ name = NAME, bufnr = bufnr })
  end
  local out = {}
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == NAME then
      table.insert(out, client)
    end
  end
  return out
end

--- The Fathom client attached to `bufnr` (current buffer by default), or nil (and a message
--- unless `quiet`).
function M.client(bufnr, quiet)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = get_clients(bufnr)[1]
  if not client and not quiet then
    notify('no Fathom server is attached to this buffer (see :checkhealth and :LspInfo)',
      vim.log.levels.WARN)
  end
  return client
end

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

local function confirm(preview)
  local setting = M.config.confirm
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
function M.apply_edit(params, client)
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
    if not confirm(preview) then
      return { applied = false, failureReason = 'the user discarded the proposed change' }
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, settled(params.edit), encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  return { applied = true }
end

-- -- the client ------------------------------------------------------------------------------
local progress_seq = 0

local function progress_handler(err, result, ctx, config)
  local value = result and result.value or {}
  local token = result and result.token
  M.state.progress_by_token = M.state.progress_by_token or {}
  local seen = M.state.progress_by_token
  if value.kind == 'end' then
    seen[token] = nil
  elseif value.kind then
    progress_seq = progress_seq + 1
    local title = value.title or (seen[token] and seen[token].title) or ''
    seen[token] = { title = title, message = value.message, percentage = value.percentage,
      seq = progress_seq }
  end
  -- The statusline shows the work that reported last.
  M.state.progress = nil
  for _, p in pairs(seen) do
    if not M.state.progress or p.seq > M.state.progress.seq then
      M.state.progress = p
    end
  end
  redraw()
  local default = vim.lsp.handlers['$/progress']
  if default then
    return default(err, result, ctx, config)
  end
end

local function handlers()
  return {
    ['workspace/applyEdit'] = function(_, params, ctx)
      return M.apply_edit(params, vim.lsp.get_client_by_id(ctx.client_id))
    end,
    ['fathom/status'] = function(_, status)
      M.state.status = status
      redraw()
    end,
    ['fathom/preview'] = function(_, preview)
      M.state.preview = preview
    end,
    ['$/progress'] = progress_handler,
  }
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.workspace = caps.workspace or {}
  caps.workspace.workspaceEdit = caps.workspace.workspaceEdit or {}
  -- Versioned edits and confirmation requests: this plugin checks versions and previews.
  caps.workspace.workspaceEdit.documentChanges = true
  caps.workspace.workspaceEdit.changeAnnotationSupport = { groupsOnLabel = false }
  caps.window = caps.window or {}
  caps.window.workDoneProgress = true
  return caps
end

local function find_root(path)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  local found = vim.fs and vim.fs.find and vim.fs.find(M.config.root_markers,
    { path = dir, upward = true })[1]
  if not found and not vim.fs then
    for _, marker in ipairs(M.config.root_markers) do
      local hit = vim.fn.finddir(marker, dir .. ';')
      if hit == '' then
        hit = vim.fn.findfile(marker, dir .. ';')
      end
      if hit ~= '' then
        found = vim.fn.fnamemodify(hit, ':p')
        break
      end
    end
  end
  if found then
    return vim.fn.fnamemodify((found:gsub('/$', '')), ':h')
  end
  return uv.cwd()
end

local clients_by_root = {} -- Neovim < 0.8: one client per root, reused across buffers

--- Attach Fathom to `bufnr` (current by default); returns the client id.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == '' or vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local root = find_root(path)
  -- No settings must still reach the server as an object: an empty Lua table is sent as [].
  local settings = next(M.config.settings) and M.config.settings or vim.empty_dict()
  local config = {
    name = NAME,
    cmd = M.config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ':t') } },
    capabilities = capabilities(),
    handlers = handlers(),
    init_options = settings,
    settings = { fathom = settings },
    on_attach = on_attach,
    on_exit = function(code)
      clients_by_root[root] = nil
      if code ~= 0 then
        notify('the server exited with code ' .. code, vim.log.levels.ERROR)
      end
    end,
  }
  if vim.lsp.start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client(config)
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

-- -- commands ----------------------------------------------------------------------------------
--- `workspace/executeCommand` for `command`, kept in M.pending (so :FathomCancel can cancel
--- it) until `handler(err, result)` gets its answer; returns the request id.
local function execute(client, bufnr, command, handler)
  local id
  local ok
  ok, id = request(client, 'workspace/executeCommand', command, function(err, result)
    M.pending[id] = nil
    handler(err, result)
  end, bufnr)
  if ok and id then
    M.pending[id] = { client = client, method = command.command }
  end
  return id
end

--- Run `fathom.edit` on lines `first`..`last` of `bufnr`; `on_done(err, result)` optional.
function M.edit(instruction, first, last, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return
  end
  if not instruction or not instruction:match('%S') then
    notify('say what to change: :FathomEdit {instruction}', vim.log.levels.WARN)
    return
  end
  local params = {
    command = EDIT,
    arguments = { {
      uri = vim.uri_from_bufnr(bufnr),
      range = M.line_range(bufnr, first, last, client.offset_encoding),
      instruction = instruction,
    } },
  }
  M.state.last_result, M.state.last_error = nil, nil
  return execute(client, bufnr, params, function(err, result)
    if err then
      M.state.last_error = err
      notify('edit failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif result and result.applied == false then
      -- Not applied, and no failure: the user discarded it, or the buffer refused it.
      M.state.last_result = result
      notify('edit not applied: ' .. (result.reason or 'the editor refused it'), vim.log.levels.WARN)
    else
      M.state.last_result = result
      notify(string.format('edit applied in %s s', result and result.seconds or '?'))
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

--- Run `fathom.review` on `bufnr` (lines `first`..`last` if given): findings arrive as
--- diagnostics with source "fathom".
function M.review(first, last, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return
  end
  local argument = { uri = vim.uri_from_bufnr(bufnr) }
  if first then
    argument.range = M.line_range(bufnr, first, last, client.offset_encoding)
  end
  M.state.last_result, M.state.last_error = nil, nil
  return execute(client, bufnr, { command = REVIEW, arguments = { argument } }, function(err, result)
    if err then
      M.state.last_error = err
      notify('review failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    else
      M.state.last_result = result
      notify(string.format('%d findings', #(result.findings or {})))
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

local function run_action(client, action, bufnr)
  local command = action.command
  if type(command) == 'table' and command.command == EDIT_WITH_INSTRUCTION then
    local argument = command.arguments[1]
    vim.ui.input({ prompt = 'Fathom, change: ' }, function(instruction)
      if instruction and instruction:match('%S') then
        local first, last = argument.range.start.line + 1, argument.range['end'].line + 1
        M.edit(instruction, first, last, bufnr)
      end
    end)
  elseif type(command) == 'table' then
    execute(client, bufnr, command, function(err, result)
      M.state.last_result, M.state.last_error = result, err
      if err then
        notify(action.title .. ' failed: ' .. (err.message or ''), vim.log.levels.ERROR)
      end
    end)
  elseif action.edit then
    M.apply_edit({ edit = action.edit, label = action.title }, client)
  end
end

--- The refactors the server offers for lines `first`..`last`; run the one whose title
--- contains `name` (e.g. "Simplify"), or pick one.
function M.refactor(name, first, last, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = M.line_range(bufnr, first, last, client.offset_encoding),
    context = { diagnostics = {}, only = { 'refactor', 'source' } },
  }
  request(client, 'textDocument/codeAction', params, function(err, actions)
    if err or not actions then
      notify('no refactors: ' .. (err and err.message or 'none offered'), vim.log.levels.WARN)
      return
    end
    if name and name ~= '' then
      for _, action in ipairs(actions) do
        if action.title:lower():find(name:lower(), 1, true) then
          return run_action(client, action, bufnr)
        end
      end
      notify('no refactor matches "' .. name .. '"', vim.log.levels.WARN)
      return
    end
    vim.ui.select(actions, {
      prompt = 'Fathom refactor',
      format_item = function(a)
        return a.title
      end,
    }, function(action)
      if action then
        run_action(client, action, bufnr)
      end
    end)
  end, bufnr)
end

--- Cancel the running edits and reviews ($/cancelRequest reaches the model: it stops).
function M.cancel()
  local n = 0
  for id, pending in pairs(M.pending) do
    rpc.cancel(pending.client, id)
    M.pending[id] = nil
    n = n + 1
  end
  notify(n == 0 and 'nothing to cancel' or string.format('cancelled %d request(s)', n))
end

function M.status(bufnr)
  local client = M.client(bufnr)
  if not client then
    return
  end
  request(client, 'workspace/executeCommand', { command = STATUS, arguments = {} },
    function(err, status)
      if err then
        notify('status: ' .. err.message, vim.log.levels.ERROR)
      else
        M.state.status = vim.tbl_extend('force', M.state.status or {}, status)
        print(vim.inspect(status))
      end
    end, bufnr)
end

--- For 'statusline': "Fathom: ready", "Fathom: editing x.py 120 tokens, 3.2 s", ...
function M.statusline()
  local progress = M.state.progress
  if progress then
    local text = progress.title:gsub('^Fathom: ', '')
    if progress.message and progress.message ~= '' then
      text = text .. ' ' .. progress.message
    end
    return 'Fathom: ' .. text
  end
  local status = M.state.status
  if not status then
    return ''
  end
  if status.state == 'error' then
    return 'Fathom: error'
  end
  return 'Fathom: ' .. status.state
end

local function line_args(opts)
  if opts.range and opts.range > 0 then
    return opts.line1, opts.line2
  end
  local line = vim.api.nvim_win_get_cursor(0)[1]
  return line, line
end

local function create_commands()
  local command = vim.api.nvim_create_user_command
  command('FathomEdit', function(opts)
    local first, last = line_args(opts)
    if opts.args ~= '' then
      return M.edit(opts.args, first, last)
    end
    vim.ui.input({ prompt = 'Fathom, change: ' }, function(instruction)
      M.edit(instruction, first, last)
    end)
  end, { nargs = '*', range = true, desc = 'Fathom: edit the selected lines as instructed' })
  command('FathomReview', function(opts)
    if opts.range and opts.range > 0 then
      return M.review(opts.line1, opts.line2)
    end
    M.review()
  end, { nargs = 0, range = true, desc = 'Fathom: review the file (or lines) as diagnostics' })
  command('FathomRefactor', function(opts)
    local first, last = line_args(opts)
    M.refactor(opts.args, first, last)
  end, {
    nargs = '?',
    range = true,
    complete = function()
      return { 'Extract', 'Inline', 'Rename', 'Type', 'Docstrings', 'Simplify', 'Review' }
    end,
    desc = 'Fathom: run a refactor on the selected lines',
  })
  command('FathomStatus', function()
    M.status()
  end, { desc = 'Fathom: engine, jobs and recent cancellations' })
  command('FathomNextEdit', function()
    next_edit.request(nil, function(err, shown)
      if err and err ~= 'superseded' then
        notify('next edit: ' .. err, vim.log.levels.WARN)
      elseif not err and not shown then
        notify('no next edit to suggest here')
      end
    end)
  end, { desc = 'Fathom: suggest the next edit at the cursor' })
  command('FathomCancel', function()
    M.cancel()
  end, { desc = 'Fathom: cancel running edits and reviews' })
end

--- setup{cmd=, settings=, filetypes=, confirm=, root_markers=, notify=, inline_completion=,
--- next_edit=, keys=, completion_delay_ms=, next_edit_delay_ms=}
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  if opts and opts.cmd then
    M.config.cmd = opts.cmd -- a list: replace, never merge by index
  end
  create_commands()
  if vim.lsp.commands then
    vim.lsp.commands[EDIT_WITH_INSTRUCTION] = function(command, ctx)
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      run_action(client, { command = command, title = command.title }, ctx.bufnr)
    end
  end
  local group = vim.api.nvim_create_augroup('fathom', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
    group = group,
    callback = function(args)
      local filetypes = M.config.filetypes
      if filetypes and not vim.tbl_contains(filetypes, vim.bo[args.buf].filetype) then
        return
      end
      M.attach(args.buf)
    end,
  })
end

-- For statuslines and tests: whether a suggestion is shown (ghost.shown, next_edit.shown).
M.ghost = ghost
M.next_edit = next_edit

return M
