"""Fathom's language server: the only room that knows about LSP and pygls."""

__version__ = "0.1.0"
