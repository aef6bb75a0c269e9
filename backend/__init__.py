"""Engines: the only room that knows a model exists.

Everything above it sees an :class:`Engine` with ``stream``, ``abort``, ``count_tokens``
and ``max_context``.
"""

from fathom.backend.engine import (
    ChatMessage,
    ChatRequest,
    Engine,
    EngineError,
    GenerationStats,
    ModelUnavailableError,
)

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Engine",
    "EngineError",
    "GenerationStats",
    "ModelUnavailableError",
]
