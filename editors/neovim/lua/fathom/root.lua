-- The workspace root of a file: the nearest folder above it holding one of the markers
-- (.git, pyproject.toml, ...), else the current directory.
local M = {}

local uv = vim.uv or vim.loop

--- The root for `path` given `markers` (setup's root_markers).
function M.find(path, markers)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  local found = vim.fs and vim.fs.find and vim.fs.find(markers,
    { path = dir, upward = true })[1]
  if not found and not vim.fs then
    for _, marker in ipairs(markers) do
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

return M
