-- Drives the Fathom plugin in a headless Neovim for tests/test_neovim_plugin.py.
-- Environment: FATHOM_BIN (the fathom program), FATHOM_SCENARIO (edit | review),
-- FATHOM_FILE (file to open), FATHOM_OUT (where the JSON report goes).
local fathom = require('fathom')
local report = { previews = {}, statuslines = {}, messages = {} }

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

local ok, err = pcall(function()
  vim.notify = function(message)
    table.insert(report.messages, message)
  end
  fathom.setup({
    cmd = { os.getenv('FATHOM_BIN'), 'serve' },
    settings = { maxOutputTokens = 512 },
    -- The user's answer in the preview: apply, and keep what was shown for the test.
    confirm = function(preview)
      table.insert(report.previews, preview)
      return true
    end,
  })
  vim.cmd('edit ' .. vim.fn.fnameescape(os.getenv('FATHOM_FILE')))
  local bufnr = vim.api.nvim_get_current_buf()
  if not vim.wait(60000, function() return fathom.client(bufnr, true) ~= nil end, 100) then
    return fail('the Fathom client did not attach')
  end
  report.nvim = vim.version()
  report.before = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  -- The statusline while the engine loads and the job runs.
  local timer = vim.loop.new_timer()
  timer:start(0, 200, vim.schedule_wrap(function()
    local line = fathom.statusline()
    if line ~= '' and report.statuslines[#report.statuslines] ~= line then
      table.insert(report.statuslines, line)
    end
  end))

  local scenario = os.getenv('FATHOM_SCENARIO')
  if scenario == 'edit' then
    local at
    for n, line in ipairs(report.before) do
      if line:match('^def describe%(') then at = n end
    end
    if not at then return fail('no def describe( in the file') end
    vim.cmd(string.format('%d,%dFathomEdit Rename the function describe to describe_item.', at, at + 1))
  elseif scenario == 'review' then
    vim.cmd('FathomReview')
  else
    return fail('unknown scenario ' .. tostring(scenario))
  end
  local done = vim.wait(900000, function()
    return fathom.state.last_result ~= nil or fathom.state.last_error ~= nil
  end, 100)
  timer:stop()
  if not done then return fail('no answer from the server in 15 minutes') end
  report.result = fathom.state.last_result
  report.server_error = fathom.state.last_error
  if scenario == 'review' then
    -- publishDiagnostics may follow the command's answer: wait a moment for it.
    vim.wait(10000, function() return #vim.diagnostic.get(bufnr) > 0 end, 50)
    report.diagnostics = {}
    for _, d in ipairs(vim.diagnostic.get(bufnr)) do
      table.insert(report.diagnostics, { lnum = d.lnum, source = d.source, message = d.message,
        severity = d.severity, code = d.user_data and d.user_data.lsp and d.user_data.lsp.code })
    end
  end
  report.after = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  report.modified = vim.bo[bufnr].modified
  report.statusline = fathom.statusline()
  finish(0)
end)
if not ok then
  fail(tostring(err))
end
