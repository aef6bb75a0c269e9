"""Repository context: what the model is shown for a request, fitted to a token budget."""

from context.files import PromptRefusedError
from context.pack import ContextPack, LineRange, Section, SectionKind
from context.text import UnreadableFileError
from context.workspace import ContextBudgetError, Workspace

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
