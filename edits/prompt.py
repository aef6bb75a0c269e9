"""The chat request that asks the model for a unified diff.

The system message and the related files change rarely, so they come first: the engine's
prefix cache then serves them without recomputation while the user edits the target.

The reply ends at the block's closing fence (a stop string: small models ramble after it),
so the other files an edit must change go inside that one block, after the selected file.

The format asks for whole-block hunks: every line of the changed block copied with ``-``,
then its new version with ``+``. Small models (the 0.5B CPU default) keep that shape far more
reliably than interleaved context lines, and the hunk still locates exactly because it quotes
the whole original block.
"""

from __future__ import annotations

from fathom.backend.engine import ChatMessage, ChatRequest
from fathom.context.pack import ContextPack, SectionKind
from fathom.context.text import fenced
from fathom.edits.formats import EXAMPLE, EditFormat, format_system, format_task, intro

SYSTEM = f"""\
{intro("a unified diff")}

How to write the diff:
- First the file header: `--- a/PATH` and `+++ b/PATH`, then a line `@@ @@`.
- Then copy every line of the block you change, each line starting with `-`.
- Then write the new version of the block, each line starting with `+`.
- Keep the indentation of every line exactly.
- Change only what the instruction asks for.
- If other files shown to you must change with it (callers, imports), go on in the same \
block: each one's `--- a/PATH`, `+++ b/PATH` and `@@ @@` lines, then its `-` and `+` lines.

{EXAMPLE}```diff
--- a/greet.py
+++ b/greet.py
@@ @@
-def greet(name):
-    return "hi " + name
+def greet(name):
+    return "hello " + name
```"""

END_OF_DIFF = "\n```"


def edit_messages(
    pack: ContextPack, instruction: str, fmt: EditFormat = EditFormat.WHOLE_BLOCK
) -> list[ChatMessage]:
    """Messages for an edit of the pack's selection as ``instruction`` says, in ``fmt``."""
    selection = pack.section(SectionKind.SELECTION)
    if selection is None or selection.lines is None:
        raise ValueError("an edit pack needs a selection section")
    context = "".join(s.text + "\n" for s in pack.sections if s.kind is not SectionKind.SELECTION)
    path = selection.path.as_posix()
    task = (
        f"Selected lines {selection.lines.start + 1}-{selection.lines.end} of {path}:\n"
        f"{fenced(selection.body)}\n"
        f"Instruction: {instruction.strip()}\n\n{format_task(fmt, path)}"
    )
    return [ChatMessage("system", format_system(fmt, SYSTEM)), ChatMessage("user", context + task)]


OPEN_FENCE = "```diff\n"


def diff_prefix(path: str) -> str:
    """The start of the reply, written for the model: fence, file header, hunk, first ``-``."""
    return f"{OPEN_FENCE}--- a/{path}\n+++ b/{path}\n@@ @@\n-"


def reply_diff(reply: str) -> str:
    """The reply without the fence Fathom itself opened (so it is not logged as a repair)."""
    return reply.removeprefix(OPEN_FENCE)


def edit_request(
    pack: ContextPack,
    instruction: str,
    max_tokens: int,
    fmt: EditFormat = EditFormat.WHOLE_BLOCK,
) -> ChatRequest:
    selection = pack.section(SectionKind.SELECTION)
    assert selection is not None
    messages = edit_messages(pack, instruction, fmt)
    if fmt is not EditFormat.WHOLE_BLOCK:
        # Capable models write their own blocks or headers, and end when they are done.
        return ChatRequest(messages=messages, max_tokens=max_tokens)
    return ChatRequest(
        messages=messages,
        max_tokens=max_tokens,
        stop=(END_OF_DIFF,),
        assistant_prefix=diff_prefix(selection.path.as_posix()),
    )
