-- Fathom for Neovim: attaches `fathom serve` to buffers, runs edits, reviews and refactors
-- (the commands: fathom/commands.lua), shows ghost text as you type (fathom/ghost.lua) and
-- next-edit suggestions (fathom/next_edit.lua), keeps the server's status and progress for
-- the statusline (fathom/status.lua), and shows a proposed change before applying it when
-- the edit asks for confirmation (fathom/workspace_edit.lua). Edits go through Neovim's own
-- LSP utilities (undo works as usual).
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

local ghost = require('fathom.ghost')
local next_edit = require('fathom.next_edit')
local rpc = require('fathom.rpc')
local commands = require('fathom.commands')
local root_of = require('fathom.root')
local status_line = require('fathom.status')
local workspace_edit = require('fathom.workspace_edit')

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

-- Workspace edits (fathom/workspace_edit.lua): previews, confirmation, versions.
M.line_range = workspace_edit.line_range
M.preview = workspace_edit.preview

--- workspace/applyEdit as the server sends it (see workspace_edit.apply_edit).
function M.apply_edit(params, client)
  return workspace_edit.apply_edit(params, client, M.config.confirm)
end

-- -- the client ------------------------------------------------------------------------------
local function progress_handler(err, result, ctx, config)
  return status_line.progress_handler(M.state, redraw, err, result, ctx, config)
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

local clients_by_root = {} -- Neovim < 0.8: one client per root, reused across buffers

--- Attach Fathom to `bufnr` (current by default); returns the client id.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local path = vim.api.nvim_buf_get_name(bufnr)
  if path == '' or vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local root = root_of.find(path, M.config.root_markers)
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
  return status_line.statusline(M.state)
end

--- setup{cmd=, settings=, filetypes=, confirm=, root_markers=, notify=, inline_completion=,
--- next_edit=, keys=, completion_delay_ms=, next_edit_delay_ms=}
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(defaults), opts or {})
  if opts and opts.cmd then
    M.config.cmd = opts.cmd -- a list: replace, never merge by index
  end
  commands.create(M, next_edit, notify)
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
