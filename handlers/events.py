"""``POST /events``: verify an event, put it in the inbox, answer at once.

Bitrix24 never retries an event and slows down handlers that answer late (api-reference/events/index.md),
so nothing slow happens here: one SQLite lookup and one insert on the request's connection (migrations ran
at start-up, so opening one takes no lock).
The worker does the rest.

Verification (api-reference/events/safe-event-handlers.md): ``auth[member_id]`` must be a known, not
uninstalled installation and ``auth[application_token]`` must equal the stored one (constant time).

- ``ONAPPUNINSTALL`` (verified by its application_token only — it carries no OAuth tokens) drops the
  stored tokens; the portal's CRM data stays.
- ``ONAPPUPDATE`` is accepted when its application_token equals the stored one. When the update brought a
  *new* token, the old one cannot vouch for it, so the event's ``auth[refresh_token]``
  is exchanged once at the configured OAuth server: only if that answer names the same ``member_id`` is
  the new token stored. (The one outbound call here; ONAPPUPDATE comes once per version.) Without a
  refresh token a changed token is refused and the next install POST ("Reinstall") adopts it.
  Either way the version is stored and an ``APP.PROVISION`` inbox row asks the worker to re-provision.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from b24app import logsafe
from b24app.db import get_db
from b24app.installations import UNINSTALLED, Installation, InstallationStore, audit
from b24app.phpquery import unflatten
from b24app.schema import DEAL
from sync import inbox

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)



class BadEvent(ValueError):
    """The payload is not an event we can read; the message names what is wrong."""


@dataclass(frozen=True)
class Event:
    name: str
    member_id: str
    application_token: str = field(repr=False)
    data: dict[str, Any]
    ts: int | None
    refresh_token: str = field(default="", repr=False)

    def fields(self) -> dict[str, Any]:
        value = self.data.get("FIELDS")
        return value if isinstance(value, dict) else {}


def parse_event(payload: dict[str, Any]) -> Event:
    """The unflattened form as an Event; raises BadEvent naming the missing or malformed part."""
    name = payload.get("event")
    if not isinstance(name, str) or not name.strip():
        raise BadEvent("missing event")
    auth = payload.get("auth")
    if not isinstance(auth, dict):
        raise BadEvent("missing auth block")
    member_id = auth.get("member_id")
    token = auth.get("application_token")
    if not isinstance(member_id, str) or not member_id:
        raise BadEvent("missing auth[member_id]")
    if not isinstance(token, str) or not token:
        raise BadEvent("missing auth[application_token]")
    logsafe.register_secret(token, auth.get("access_token"), auth.get("refresh_token"))
    data = payload.get("data")
    if data in (None, ""):
        data = {}
    if not isinstance(data, dict):
        raise BadEvent("data must be a set of fields")
    raw_ts = payload.get("ts")
    if raw_ts not in (None, "") and not str(raw_ts).isdigit():
        raise BadEvent("ts must be a unix time")
    refresh = auth.get("refresh_token")
    return Event(name=name.strip().upper(), member_id=member_id, application_token=token, data=data,
                 ts=int(str(raw_ts)) if raw_ts not in (None, "") else None,
                 refresh_token=refresh if isinstance(refresh, str) else "")


def _int_field(event: Event, key: str) -> int:
    value = event.fields().get(key)
    if value is None or not str(value).strip().isdigit():
        raise BadEvent(f"data[FIELDS][{key}] must be a whole number")
    return int(str(value).strip())


def inbox_key(event: Event) -> tuple[int, int]:
    """(entity_type_id, object_id) of the object the event is about; (0, 0) for portal-wide events."""
    if event.name.startswith("ONCRMDEAL"):
        return DEAL, _int_field(event, "ID")
    if event.name.startswith("ONCRMDYNAMICITEM"):
        return _int_field(event, "ENTITY_TYPE_ID"), _int_field(event, "ID")
    return 0, 0


def _tokens_equal(stored: str, given: str) -> bool:
    return bool(stored) and hmac.compare_digest(stored.encode("utf-8"), given.encode("utf-8"))


def _error(status: int, code: str, description: str = "") -> ResponseReturnValue:
    body: dict[str, str] = {"status": "error", "error": code}
    if description:
        body["error_description"] = description
    return jsonify(body), status


def _ok(**extra: Any) -> ResponseReturnValue:
    return jsonify({"status": "ok", **extra}), 200


def _verified_new_token(inst: Installation, event: Event) -> bool:
    """ONAPPUPDATE with a changed token: the event's refresh token must belong to the same portal."""
    if not event.refresh_token:
        return False
    from b24app.provisioning.installer import InstallRefused, exchange_refresh_token

    try:
        answer = exchange_refresh_token(current_app.config, event.refresh_token)
    except InstallRefused as exc:
        log.warning("portal %s: ONAPPUPDATE token check failed: %s", inst.member_id, exc.reason)
        return False
    return answer.member_id == inst.member_id


def _app_update(store: InstallationStore, inst: Installation, event: Event, token_ok: bool) -> ResponseReturnValue:
    db = store.db
    token = inst.application_token
    if not token_ok:
        if not _verified_new_token(inst, event):
            audit(db, inst.member_id, "app_update_refused", reason="unverified application_token")
            return _error(401, "invalid_application_token")
        token = event.application_token
    version = str(event.data.get("VERSION") or inst.app_version)
    store.set_app_update(inst.member_id, token, version)
    inbox.enqueue(db, inst.member_id, inbox.PROVISION, 0, 0,
                  {"VERSION": version, "PREVIOUS_VERSION": event.data.get("PREVIOUS_VERSION")}, event.ts)
    audit(db, inst.member_id, "app_update", version=version, token_changed=not token_ok)
    return _ok(queued=True)


@bp.post("/events")
def receive() -> ResponseReturnValue:
    """Verify, enqueue, answer 200 (api-reference/events/index.md)."""
    try:
        event = parse_event(unflatten(request.form.items(multi=True)))
    except BadEvent as exc:
        return _error(400, "malformed_event", str(exc))
    return _receive(get_db(), event)


def _receive(db: sqlite_utils.Database, event: Event) -> ResponseReturnValue:
    store = InstallationStore(db)
    inst = store.find(event.member_id)
    if inst is None or inst.status == UNINSTALLED:
        log.info("event %s for an unknown or uninstalled portal refused", event.name)
        return _error(401, "invalid_application_token")
    token_ok = _tokens_equal(inst.application_token, event.application_token)
    if event.name == "ONAPPUPDATE":
        return _app_update(store, inst, event, token_ok)
    if not token_ok:
        log.warning("portal %s: event %s with a wrong application_token refused", inst.member_id, event.name)
        return _error(401, "invalid_application_token")
    if event.name == "ONAPPUNINSTALL":
        store.mark_uninstalled(inst.member_id)
        audit(db, inst.member_id, "uninstall", clean=event.data.get("CLEAN"))
        return _ok()
    try:
        entity_type_id, object_id = inbox_key(event)
    except BadEvent as exc:
        return _error(400, "malformed_event", str(exc))
    if (event.name.startswith("ONCRMDYNAMICITEM") and inst.entity_type_id
            and entity_type_id != inst.entity_type_id):
        return _ok(queued=False)  # another smart process: not ours
    queued = inbox.enqueue(db, inst.member_id, event.name, entity_type_id, object_id, event.data, event.ts)
    log.debug("portal %s: %s %s/%s %s", inst.member_id, event.name, entity_type_id, object_id,
              "queued" if queued else "coalesced")
    return _ok(queued=queued)
