"""Repository context: what the model is shown for a request, fitted to a token budget."""

from fathom.context.files import PromptRefusedError
from fathom.context.pack import ContextPack, LineRange, Section, SectionKind
from fathom.context.text import UnreadableFileError
from fathom.context.workspace import ContextBudgetError, Workspace

__all__ = [
    "ContextBudgetError",
    "ContextPack",
    "LineRange",
    "PromptRefusedError",
    "Section",
    "SectionKind",
    "UnreadableFileError",
    "Workspace",
]
