"""The edit formats Fathom asks models for, and which one a model gets by default.

* ``whole-block`` (edits/prompt.py): every line of the changed block with ``-``, then its new
  version with ``+``, the reply begun for the model. Small models keep that shape far more
  reliably than anything with context lines.
* ``search-replace``: Aider's SEARCH/REPLACE blocks (edits/search_replace.py), which capable
  models follow best — Aider reports 98 to 99.6% well-formed replies for the DeepSeek-V3 family.
* ``udiff``: a unified diff with context lines, for models tuned on patches.

Every format goes through the same parse (either shape is recognised in any reply), locator,
syntax check and plan, and every format lets the model change the other files it was shown
and create new ones. The default follows the model: a mixture-of-experts model or a dense one
of about 7B parameters and up (hidden size 3072 and over) gets search/replace; a small model,
or one whose shape is unknown, gets whole blocks.
"""

from __future__ import annotations

from enum import StrEnum

# Qwen2.5-Coder: 0.5B has 896, 1.5B 1536, 3B 2048, 7B 3584; DeepSeek-V3 7168.
CAPABLE_HIDDEN_SIZE = 3072


class EditFormat(StrEnum):
    WHOLE_BLOCK = "whole-block"
    SEARCH_REPLACE = "search-replace"
    UDIFF = "udiff"


AUTO = "auto"
FORMAT_NAMES = (AUTO, *(f.value for f in EditFormat))


def default_format(hidden_size: int | None, is_moe: bool) -> EditFormat:
    """The format a model of this shape follows best (see the module docstring)."""
    if is_moe or (hidden_size is not None and hidden_size >= CAPABLE_HIDDEN_SIZE):
        return EditFormat.SEARCH_REPLACE
    return EditFormat.WHOLE_BLOCK


def choose_format(setting: str, hidden_size: int | None, is_moe: bool) -> EditFormat:
    """``setting`` is one of FORMAT_NAMES; ``auto`` follows the model."""
    if setting == AUTO:
        return default_format(hidden_size, is_moe)
    return EditFormat(setting)  # the settings were validated against FORMAT_NAMES


def intro(shape: str) -> str:
    """The first line of every edit format's system message."""
    return (
        "You are Fathom, a careful coding assistant inside the user's editor. You change code "
        f"by replying with {shape}, and nothing else."
    )


# The task every format's example carries out, ending where the reply in that format begins.
EXAMPLE = """\
Example. Instruction: "make greet say hello". File greet.py:
```
def greet(name):
    return "hi " + name
```
Reply:
"""

MULTI_FILE = """\
- If other files shown to you must change with it (callers, imports), edit them too.
- To create a file, """

SEARCH_REPLACE_SYSTEM = f"""\
{intro("SEARCH/REPLACE blocks")}

How to write a block:
- A line with the file's path, then a fenced code block holding:
  `<<<<<<< SEARCH`, the lines to change copied exactly from the file, `=======`, the new \
lines, `>>>>>>> REPLACE`.
- SEARCH must match the file exactly, indentation included, and be long enough to be unique.
- Use one block per change; change only what the instruction asks for.
{MULTI_FILE}write its path and a block with an empty SEARCH.

{EXAMPLE}greet.py
```python
<<<<<<< SEARCH
    return "hi " + name
=======
    return "hello " + name
>>>>>>> REPLACE
```"""

UDIFF_SYSTEM = f"""\
{intro("a unified diff")}

How to write the diff:
- For each file: `--- a/PATH` and `+++ b/PATH`, then hunks starting with `@@ ... @@`.
- In a hunk, unchanged lines start with a space, removed lines with `-`, added lines with `+`.
- Give two or three unchanged lines around each change, copied exactly, so it can be found.
- Keep the indentation of every line exactly; change only what the instruction asks for.
{MULTI_FILE}use `--- /dev/null` and `+++ b/NEW_PATH`.

{EXAMPLE}```diff
--- a/greet.py
+++ b/greet.py
@@ ... @@
 def greet(name):
-    return "hi " + name
+    return "hello " + name
```"""


def format_system(fmt: EditFormat, whole_block_system: str) -> str:
    if fmt is EditFormat.SEARCH_REPLACE:
        return SEARCH_REPLACE_SYSTEM
    if fmt is EditFormat.UDIFF:
        return UDIFF_SYSTEM
    return whole_block_system


def format_task(fmt: EditFormat, path: str) -> str:
    """The last sentence of the user's message: what to reply with."""
    if fmt is EditFormat.SEARCH_REPLACE:
        return (
            f"Reply with SEARCH/REPLACE blocks that carry out the instruction on the selected "
            f"lines of {path}, and on any other file shown that must change with them."
        )
    if fmt is EditFormat.UDIFF:
        return (
            f"Reply with a unified diff that carries out the instruction on the selected lines "
            f"of {path}, and on any other file shown that must change with them."
        )
    return (
        f"Reply with a unified diff of {path} that carries out the instruction on the "
        "selected lines; if other files shown above must change with it (callers, imports), "
        "go on in the same diff block with their headers and hunks."
    )
