-- Loaded by every plugin manager. Nothing starts until `require('fathom').setup(opts)`
-- (lazy.nvim calls it with the spec's `opts`), so the server's command and settings are
-- always the user's.
if vim.g.loaded_fathom then
  return
end
vim.g.loaded_fathom = true
