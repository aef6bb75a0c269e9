-- Drives the Fathom plugin in a headless Neovim for tests/test_neovim_plugin.py: one server
-- (one engine start) for every job, :FathomEdit on FATHOM_EDIT_FILE, then :FathomReview on
-- FATHOM_REVIEW_FILE (same project, so the same client), then ghost text typed and taken in
-- FATHOM_GHOST_FILE, then a next edit asked for, previewed and taken in FATHOM_NEXT_FILE. Environment: FATHOM_BIN (the
-- fathom program), FATHOM_OUT (where the JSON report goes).
-- The report says which of Neovim's APIs the plugin called (report.api), so the test can
-- tell that each Neovim took its own path, and every question Neovim asked (report.prompts).
local report = { api = {}, prompts = {}, messages = {}, jobs = {}, previews = {} }

local function finish(code)
  report.code = code
  local out = io.open(os.getenv('FATHOM_OUT'), 'w')
  out:write(vim.fn.json_encode(report))
  out:close()
  vim.cmd((code == 0 and 'qall!') or ('cquit! ' .. code))
end

local function fail(why)
  report.error = why
  finish(1)
end

-- Counts the calls the plugin itself makes to tbl[key] (Neovim's own calls are not counted).
local function spy(tbl, key, label)
  local real = tbl[key]
  if not real then
    return
  end
  tbl[key] = function(...)
    local caller = debug.getinfo(2, 'S').source
    if caller:find('fathom/init.lua', 1, true) then
      report.api[label] = (report.api[label] or 0) + 1
    end
    return real(...)
  end
end

-- How the plugin calls client.request: as a method (client:request, 0.11+) or a field.
local function spy_request(client)
  local real = client.request
  client.request = function(first, ...)
    local form = first == client and 'client:request' or 'client.request'
    report.api[form] = (report.api[form] or 0) + 1
    return real(first, ...)
  end
end

local ok, err = pcall(function()
  vim.o.hidden = true -- the edited buffer stays modified while the review opens another
  vim.notify = function(message)
    table.insert(report.messages, message)
  end
  -- Every question Neovim itself asks (0.12 asks before annotated edits that need it).
  vim.fn.confirm = function(message)
    table.insert(report.prompts, message)
    return 1
  end
  spy(vim.lsp, 'start', 'vim.lsp.start')
  spy(vim.lsp, 'start_client', 'vim.lsp.start_client')
  spy(vim.lsp, 'get_clients', 'vim.lsp.get_clients')
  spy(vim.lsp, 'buf_get_clients', 'vim.lsp.buf_get_clients')
  local apply_workspace_edit = vim.lsp.util.apply_workspace_edit
  vim.lsp.util.apply_workspace_edit = function(edit, encoding)
    local asks = 0
    for _, annotation in pairs(edit.changeAnnotations or {}) do
      asks = asks + ((annotation.needsConfirmation and 1) or 0)
    end
    report.applied = report.applied or {}
    table.insert(report.applied, {
      annotations = vim.tbl_count(edit.changeAnnotations or {}),
      asking = asks,
      encoding = encoding,
    })
    return apply_workspace_edit(edit, encoding)
  end

  local fathom = require('fathom')
  fathom.setup({
    cmd = { os.getenv('FATHOM_BIN'), 'serve' },
    settings = { maxOutputTokens = 512 },
    -- Next edits on request only: an automatic one after the edit would run beside the review.
    next_edit = false,
    -- The user's answer in the preview: apply, and keep what was shown for the test.
    confirm = function(preview)
      table.insert(report.previews, preview)
      return true
    end,
  })
  report.nvim = vim.version()

  local function open(path)
    vim.cmd('edit ' .. vim.fn.fnameescape(path))
    local bufnr = vim.api.nvim_get_current_buf()
    if not vim.wait(60000, function() return fathom.client(bufnr, true) ~= nil end, 100) then
      error('the Fathom client did not attach to ' .. path)
    end
    return bufnr
  end

  -- Runs `command`, waits for its answer; the statusline is sampled meanwhile.
  local function run(name, bufnr, command)
    local job = { statuslines = {}, before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false) }
    report.jobs[name] = job
    local timer = (vim.uv or vim.loop).new_timer()
    timer:start(0, 200, vim.schedule_wrap(function()
      local line = fathom.statusline()
      if line ~= '' and job.statuslines[#job.statuslines] ~= line then
        table.insert(job.statuslines, line)
      end
    end))
    local started = (vim.uv or vim.loop).hrtime()
    vim.cmd(command)
    local done = vim.wait(900000, function()
      return fathom.state.last_result ~= nil or fathom.state.last_error ~= nil
    end, 100)
    timer:stop()
    timer:close()
    job.seconds = ((vim.uv or vim.loop).hrtime() - started) / 1e9
    if not done then
      error('no answer to ' .. command .. ' in 15 minutes')
    end
    job.result = fathom.state.last_result
    job.server_error = fathom.state.last_error
    return job
  end

  -- :FathomEdit (the first job also waits for the engine to start).
  local edit_buf = open(os.getenv('FATHOM_EDIT_FILE'))
  spy_request(fathom.client(edit_buf))
  local at
  for n, line in ipairs(vim.api.nvim_buf_get_lines(edit_buf, 0, -1, false)) do
    if line:match('^def describe%(') then at = n end
  end
  if not at then
    error('no def describe( in ' .. os.getenv('FATHOM_EDIT_FILE'))
  end
  local edit = run('edit', edit_buf,
    string.format('%d,%dFathomEdit Rename the function describe to describe_item.', at, at + 1))
  edit.after = vim.api.nvim_buf_get_lines(edit_buf, 0, -1, false)
  edit.modified = vim.bo[edit_buf].modified
  edit.statusline = fathom.statusline()
  edit.previews = report.previews

  -- :FathomReview in a second buffer of the same project: the same client serves it.
  local review_buf = open(os.getenv('FATHOM_REVIEW_FILE'))
  report.same_client = fathom.client(review_buf).id == fathom.client(edit_buf).id
  local review = run('review', review_buf, 'FathomReview')
  -- publishDiagnostics may follow the command's answer: wait a moment for it.
  vim.wait(10000, function() return #vim.diagnostic.get(review_buf) > 0 end, 50)
  review.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(review_buf)) do
    table.insert(review.diagnostics, { lnum = d.lnum, source = d.source, message = d.message,
      severity = d.severity, code = d.user_data and d.user_data.lsp and d.user_data.lsp.code })
  end
  review.after = vim.api.nvim_buf_get_lines(review_buf, 0, -1, false)
  review.statusline = fathom.statusline()

  -- Ghost text: type in insert mode, see the suggestion, take it with <Tab>.
  local function marks(name, bufnr)
    local ns = vim.api.nvim_get_namespaces()[name]
    return ns and vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
  end
  local function virtual(bufnr)
    for _, name in ipairs({ 'nvim.lsp.inline_completion', 'fathom_ghost' }) do
      for _, mark in ipairs(marks(name, bufnr)) do
        local details = mark[4]
        if details.virt_text then
          local more = {}
          for _, line in ipairs(details.virt_lines or {}) do
            table.insert(more, line[1][1])
          end
          return { namespace = name, row = mark[2], text = details.virt_text[1][1], more = more }
        end
      end
    end
  end
  local ghost_buf = open(os.getenv('FATHOM_GHOST_FILE'))
  local ghost = { before = vim.api.nvim_buf_get_lines(ghost_buf, 0, -1, false) }
  report.jobs.ghost = ghost
  vim.api.nvim_win_set_cursor(0, { #ghost.before, 0 })
  local key = function(keys) return vim.api.nvim_replace_termcodes(keys, true, false, true) end
  local started = (vim.uv or vim.loop).hrtime()
  local poll = (vim.uv or vim.loop).new_timer()
  poll:start(100, 100, vim.schedule_wrap(function()
    local waited = ((vim.uv or vim.loop).hrtime() - started) / 1e9
    if not ghost.shown and fathom.ghost.shown(ghost_buf) then
      ghost.shown = virtual(ghost_buf)
      ghost.seconds = waited
      ghost.line_shown = vim.api.nvim_get_current_line()
      vim.api.nvim_feedkeys(key('<Tab>'), 'm', false) -- the plugin's accept key
    elseif ghost.shown and not ghost.after
      and vim.api.nvim_get_current_line() ~= ghost.line_shown then
      ghost.after = vim.api.nvim_buf_get_lines(ghost_buf, 0, -1, false)
      ghost.cursor = vim.api.nvim_win_get_cursor(0)
      poll:stop()
      vim.api.nvim_feedkeys(key('<Esc>'), 'n', false)
    elseif waited > 600 then
      ghost.timed_out = true
      poll:stop()
      vim.api.nvim_feedkeys(key('<Esc>'), 'n', false)
    end
  end))
  -- Append to the last line; this returns when the timer leaves insert mode.
  vim.api.nvim_feedkeys('A', 'x!', false)
  poll:close()
  ghost.tab_typed = ghost.after and ghost.after[#ghost.before]:find('\t') ~= nil

  -- Next edit: the user renames a variable where it is set; Fathom proposes its other uses.
  local next_buf = open(os.getenv('FATHOM_NEXT_FILE'))
  local next_job = { before = vim.api.nvim_buf_get_lines(next_buf, 0, -1, false) }
  report.jobs.next_edit = next_job
  vim.api.nvim_buf_set_lines(next_buf, 1, 2, false, { '    subtotal = 0' })
  vim.api.nvim_win_set_cursor(0, { 4, 8 })
  next_job.edited = vim.api.nvim_buf_get_lines(next_buf, 0, -1, false)
  local answered
  fathom.next_edit.request(next_buf, function(err, shown)
    answered = { err = err, shown = shown }
  end)
  if not vim.wait(600000, function() return answered ~= nil end, 100) then
    error('no answer to fathom/nextEdit in 10 minutes')
  end
  next_job.answer = answered
  if answered.shown then
    local preview = marks('fathom_next_edit', next_buf)
    next_job.removed_rows, next_job.added = {}, {}
    for _, mark in ipairs(preview) do
      local details = mark[4]
      if details.hl_group == 'DiffDelete' then
        table.insert(next_job.removed_rows, mark[2])
      end
      for _, line in ipairs(details.virt_lines or {}) do
        table.insert(next_job.added, line[1][1])
      end
    end
    vim.api.nvim_feedkeys(key('<Tab>'), 'mx', false) -- the plugin's accept key
    vim.wait(5000, function() return not fathom.next_edit.shown(next_buf) end, 50)
    next_job.after = vim.api.nvim_buf_get_lines(next_buf, 0, -1, false)
    next_job.still_shown = fathom.next_edit.shown(next_buf)
  end
  -- The acceptance commands reach the server before Neovim quits: the server answers
  -- commands in the order they come, so once a later one is answered they have run.
  local synced
  require('fathom.rpc').request(fathom.client(next_buf), 'workspace/executeCommand',
    { command = 'fathom.status', arguments = {} }, function() synced = true end, next_buf)
  vim.wait(60000, function() return synced end, 50)
  finish(0)
end)
if not ok then
  fail(tostring(err))
end
