"""One chat request streamed with its secrets kept home: what edits and reviews both do.

Secret-looking values (edits/secrets.py) go to the engine as markers; the reply, every
partial reply included, gets them back. A conversation of several rounds (an edit asked
again) is one :class:`RedactedChat`: the same value keeps its marker from round to round, and
the rounds' token counts and seconds add up in ``stats``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from fathom.backend.engine import ChatRequest, Engine, GenerationStats
from fathom.edits.secrets import Redactor


def add_stats(total: GenerationStats, more: GenerationStats) -> None:
    if total.first_token_s is None and more.first_token_s is not None:
        # The first round that wrote anything: its first token, after every round before it.
        total.first_token_s = total.total_s + more.first_token_s
    total.prompt_tokens += more.prompt_tokens
    total.completion_tokens += more.completion_tokens
    total.total_s += more.total_s


class RedactedChat:
    def __init__(self, engine: Engine, *, json_reply: bool = False) -> None:
        """``json_reply``: the reply is JSON, so a secret goes back JSON-escaped inside its
        string (a password holding ``"`` would otherwise break the reply)."""
        self._engine = engine
        self._redactor = Redactor()
        self._restore = self._redactor.restore_json if json_reply else self._redactor.restore
        self.stats = GenerationStats()  # every round's, summed

    async def reply(
        self,
        request: ChatRequest,
        *,
        on_text: Callable[[str, int], None] = lambda _t, _n: None,
        on_partial: Callable[[str], None] = lambda _r: None,
    ) -> str:
        """The whole reply (from the request's assistant prefix on), secrets restored.

        ``on_text(piece, tokens)`` gets each piece as it streams (as the engine wrote it,
        markers and all) with the output tokens of every round so far; ``on_partial`` gets
        what a reply cut short (cancelled, engine failure) held, secrets restored."""
        round_stats = GenerationStats()
        pieces = [request.assistant_prefix]
        sent = self._redactor.request(request)
        # Closed on every way out (an error in on_text included), so the engine request
        # stops now rather than when the garbage collector finds the stream.
        try:
            async with contextlib.aclosing(self._engine.stream(sent, round_stats)) as stream:
                async for piece in stream:
                    pieces.append(piece)
                    on_text(piece, self.stats.completion_tokens + round_stats.completion_tokens)
        except BaseException:  # cancelled included: what the model wrote so far is kept
            on_partial(self._restore("".join(pieces)))
            raise
        add_stats(self.stats, round_stats)
        return self._restore("".join(pieces))
