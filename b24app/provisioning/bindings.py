"""Bind the app's placements (tabs) and event handlers, idempotently.

placement.get / event.get first so nothing is bound twice; a binding to an older address of this app
(``PUBLIC_URL`` changed) is replaced. Docs: api-reference/widgets/placement-bind.md,
api-reference/widgets/placement-get.md, api-reference/events/event-bind.md, api-reference/events/event-get.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from b24app.manifest import Manifest
from b24app.provisioning.report import CREATED, FAILED, FOUND, ProvisionReport
from b24app.rest.clients import RestClient
from b24app.rest.errors import B24Error


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in (value or []) if isinstance(v, dict)]


def _url(public_url: str, path: str) -> str:
    return public_url.rstrip("/") + path


def ensure_placements(client: RestClient, manifest: Manifest, public_url: str, report: ProvisionReport) -> None:
    """placement.get first so nothing is bound twice; a binding to an old handler URL is replaced."""
    bound = _items(client.call("placement.get", {}))
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for p in manifest.placements:
        handler = _url(public_url, p.handler)
        mine = [b for b in bound if str(b.get("placement", "")).upper() == p.code]
        if any(b.get("handler") == handler for b in mine):
            report.add("placement", p.code, FOUND)
            continue
        for old in mine:
            if str(old.get("handler", "")).endswith(p.handler):
                commands[f"unbind_{p.code}"] = ("placement.unbind", {"PLACEMENT": p.code,
                                                                     "HANDLER": old.get("handler")})
        lang_all = {lang: {"TITLE": title} for lang, title in p.title.items()}
        lang_all.setdefault("es", {"TITLE": p.title["la"]})
        commands[p.code] = ("placement.bind", {"PLACEMENT": p.code, "HANDLER": handler, "TITLE": p.title["la"],
                                               "LANG_ALL": lang_all})
    _bind(client, commands, "placement", report, already=lambda error: False)


def _already_bound(error: B24Error) -> bool:
    text = f"{error.code} {error.description}".lower()
    return "already" in text or "unable to set event handler" in text


def ensure_events(client: RestClient, manifest: Manifest, public_url: str, report: ProvisionReport) -> None:
    """event.get first; event.bind each missing manifest event; "already exists" counts as success."""
    handler = _url(public_url, manifest.handlers["events"])
    bound = _items(client.call("event.get", {}))
    ours = {str(b.get("event", "")).upper() for b in bound if b.get("handler") == handler}
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for event in manifest.events:
        if event in ours:
            report.add("event", event, FOUND)
            continue
        for old in bound:  # same event to an old address of this app (PUBLIC_URL changed)
            if str(old.get("event", "")).upper() == event and str(old.get("handler", "")).endswith(
                    manifest.handlers["events"]):
                commands[f"unbind_{event}"] = ("event.unbind", {"event": event, "handler": old.get("handler")})
        commands[event] = ("event.bind", {"event": event, "handler": handler})
    _bind(client, commands, "event", report, already=_already_bound)


def _bind(client: RestClient, commands: dict[str, tuple[str, dict[str, Any]]], kind: str, report: ProvisionReport,
          already: Callable[[B24Error], bool]) -> None:
    """Send the (un)bind commands in batches; report each bind: created, found (``already``) or failed."""
    if not commands:
        return
    result = client.batch_all(commands)
    for key in commands:
        if key.startswith("unbind_"):
            continue
        error = result.errors.get(key)
        if error is None:
            report.add(kind, key, CREATED)
        elif already(error):
            report.add(kind, key, FOUND)
        else:
            report.add(kind, key, FAILED, str(error))
