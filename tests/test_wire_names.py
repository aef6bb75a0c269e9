"""The server's wire names (lsp_server/wire.py) and the VS Code extension's
(editors/vscode/src/protocol.ts) are one list: a name renamed or added on one side only fails
here, not in an editor that silently never hears back."""

from __future__ import annotations

import re
from pathlib import Path

from fathom.lsp_server import wire

PROTOCOL_TS = Path(__file__).parent.parent / "editors" / "vscode" / "src" / "protocol.ts"
# `export const NAME = 'value';` with a string value: the wire names (the rest are functions).
_TS_NAME = re.compile(r"""^export const ([A-Z][A-Z0-9_]*) = ['"]([^'"]*)['"];$""", re.MULTILINE)


def _ts_names() -> list[tuple[str, str]]:
    return _TS_NAME.findall(PROTOCOL_TS.read_text(encoding="utf-8"))


def _python_names() -> list[tuple[str, str]]:
    # Module attributes keep their definition order: the order of wire.py's text.
    return [
        (name, value)
        for name, value in vars(wire).items()
        if name.isupper() and isinstance(value, str)
    ]


def test_protocol_ts_declares_wire_names():
    # The pattern still matches protocol.ts: an empty list would make the next test vacuous.
    names = dict(_ts_names())
    assert names.get("EDIT_COMMAND") == "fathom.edit"
    assert len(names) >= 5


def test_the_server_and_the_extension_use_the_same_names_in_the_same_order():
    assert _python_names() == _ts_names()


def test_every_wire_name_is_a_fathom_name():
    # Commands are dotted (workspace/executeCommand), notifications and requests are methods
    # with a slash.
    for name, value in _python_names():
        separator = "/" if name.endswith(("_NOTIFICATION", "_REQUEST")) else "."
        assert value.startswith("fathom" + separator), (name, value)
