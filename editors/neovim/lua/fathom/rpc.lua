-- Requests to the Fathom client the way each Neovim spells them: client:request and
-- client:cancel_request as methods on 0.11+, as fields before.
local M = {}

local methods = vim.fn.has('nvim-0.11') == 1

--- Send `method`; `handler(err, result)` gets the answer. Returns the request id, or nil when
--- the client is gone.
function M.request(client, method, params, handler, bufnr)
  local ok, id
  if methods then
    ok, id = client:request(method, params, handler, bufnr)
  else
    ok, id = client.request(method, params, handler, bufnr)
  end
  return ok and id or nil
end

function M.cancel(client, id)
  if methods then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

--- Run a server command (an LSP Command table) and ignore its answer.
function M.execute(client, command, bufnr)
  if command then
    M.request(client, 'workspace/executeCommand', {
      command = command.command,
      arguments = command.arguments,
    }, function() end, bufnr)
  end
end

--- The LSP position of the cursor in the current window, in the client's encoding.
function M.cursor_position(client)
  local encoding = client.offset_encoding or 'utf-16'
  return vim.lsp.util.make_position_params(0, encoding).position
end

--- The byte column of LSP `character` in `line`.
function M.byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col
  if vim.fn.has('nvim-0.11') == 1 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and col or math.min(character, #line)
end

--- The version Neovim last sent for `bufnr` (what a versioned edit must match).
function M.version(bufnr)
  local versions = vim.lsp.util.buf_versions
  return versions and versions[bufnr] or vim.api.nvim_buf_get_changedtick(bufnr)
end

return M
