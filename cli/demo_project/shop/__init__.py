"""A tiny shop: the sample project `fathom demo` edits."""
