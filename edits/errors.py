"""Typed errors of the edit pipeline; each message says what went wrong and where."""

from fathom.errors import FathomError


class EditError(FathomError):
    """A model reply could not be turned into an edit; nothing was changed."""


class NoDiffError(EditError):
    """The reply holds no unified diff."""


class DiffParseError(EditError):
    """The reply holds something diff-like that cannot be read even after repairs."""


class HunkLocationError(EditError):
    """A hunk's original lines are not in the document (or not in only one place)."""


class PathOutsideWorkspaceError(EditError):
    """A diff names a file outside the workspace roots."""


class StaleEditError(EditError):
    """The document changed where the edit applies while the model was writing."""


class UnsupportedByClientError(EditError):
    """The editor cannot apply this kind of change (e.g. file creation) through LSP."""


class NotShownError(EditError):
    """The diff changes a file the model was never shown (a prompt injection's favourite)."""


class ProtectedPathError(EditError):
    """The diff writes where Fathom never shows files (.git/, secrets, ignored files)."""


class DeleteNotAllowedError(EditError):
    """The plan deletes files and nobody allowed it (headless ``--allow-delete``)."""
