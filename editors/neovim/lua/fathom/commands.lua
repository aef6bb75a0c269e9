-- The user commands :FathomEdit, :FathomReview, :FathomRefactor, :FathomStatus,
-- :FathomNextEdit and :FathomCancel, each a thin call into the plugin (init.lua).
local M = {}

local function line_args(opts)
  if opts.range and opts.range > 0 then
    return opts.line1, opts.line2
  end
  local line = vim.api.nvim_win_get_cursor(0)[1]
  return line, line
end

--- Define the commands on `fathom` (the plugin's module); `notify` reports to the user.
function M.create(fathom, next_edit, notify)
  local command = vim.api.nvim_create_user_command
  command('FathomEdit', function(opts)
    local first, last = line_args(opts)
    if opts.args ~= '' then
      return fathom.edit(opts.args, first, last)
    end
    vim.ui.input({ prompt = 'Fathom, change: ' }, function(instruction)
      fathom.edit(instruction, first, last)
    end)
  end, { nargs = '*', range = true, desc = 'Fathom: edit the selected lines as instructed' })
  command('FathomReview', function(opts)
    if opts.range and opts.range > 0 then
      return fathom.review(opts.line1, opts.line2)
    end
    fathom.review()
  end, { nargs = 0, range = true, desc = 'Fathom: review the file (or lines) as diagnostics' })
  command('FathomRefactor', function(opts)
    local first, last = line_args(opts)
    fathom.refactor(opts.args, first, last)
  end, {
    nargs = '?',
    range = true,
    complete = function()
      return { 'Extract', 'Inline', 'Rename', 'Type', 'Docstrings', 'Simplify', 'Review' }
    end,
    desc = 'Fathom: run a refactor on the selected lines',
  })
  command('FathomStatus', function()
    fathom.status()
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
    fathom.cancel()
  end, { desc = 'Fathom: cancel running edits and reviews' })
end

return M
