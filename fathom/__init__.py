"""Fathom, installed under one name.

The rooms live at the top of the repository (``context/``, ``edits/``, ``backend/``,
``pipeline/``, ``lsp_server/``, ``cli/``); ``fathom/`` holds a link to each, so the source
checkout, an editable install and a built wheel all import them as ``fathom.<room>`` and
nothing Fathom installs claims a generic top-level name such as ``context``.
"""

__version__ = "0.1.0"
