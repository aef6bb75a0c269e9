"""The root of Fathom's own errors.

Every error Fathom raises on purpose (a refused edit, an unreadable file, an engine that
failed, a bad setting) derives from :class:`FathomError`, so a caller can tell "Fathom said no,
with a message for the user" from a bug. None derives from ``ValueError``: an ``except
ValueError`` written for int() or json must never swallow a refusal, nor a refusal handler a
programming error.
"""


class FathomError(Exception):
    """An error whose message is written for the user."""
