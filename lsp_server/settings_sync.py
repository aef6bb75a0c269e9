"""The editor's settings for section ``fathom``: from ``initializationOptions``, then pulled
(``workspace/configuration``) or pushed (``workspace/didChangeConfiguration``). They are
merged into the server's config (lsp_server/config.py, which says what is wrong with a bad
value and keeps the current one); a change of engine settings replaces the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from fathom.lsp_server.config import merge

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


def apply_settings(ls: FathomServer, raw: object, source: str) -> bool:
    """Merge settings from the editor; True when the engine must be replaced."""
    config, problems = merge(ls.config, raw, source)
    for problem in problems:
        ls.show(f"Fathom: {problem}", types.MessageType.Warning)
    engine_changed = config.engine_key() != ls.config.engine_key()
    severity_changed = config.review_severity != ls.config.review_severity
    limits = (config.journal_max_days, config.journal_max_megabytes)
    limits_changed = limits != (ls.config.journal_max_days, ls.config.journal_max_megabytes)
    ls.config = config
    if limits_changed:
        ls.journal_limits_changed()
    if severity_changed:
        for uri in ls.findings.uris():
            ls.document_sync.publish_findings(uri)
    return engine_changed


async def pull_settings(ls: FathomServer) -> object | None:
    """``workspace/configuration`` for section ``fathom``, when the client has it."""
    workspace = ls.client_capabilities.workspace
    if not (workspace and workspace.configuration):
        return None
    try:
        (settings,) = await ls.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section="fathom")])
        )
    except Exception as exc:  # a client failing this request must not stop the server
        ls.show(f"Fathom could not read its settings: {exc}", types.MessageType.Warning)
        return None
    return settings


async def settings_changed(ls: FathomServer, raw: object | None) -> None:
    if raw is None or (isinstance(raw, dict) and not raw):
        raw = await pull_settings(ls)  # VS Code sends nothing and expects a pull
    if apply_settings(ls, raw, "settings"):
        await ls.engine_host.replace()
