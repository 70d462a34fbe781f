"""``POST /events``: verify an event, put it in the inbox, answer at once.

Bitrix24 never retries an event and slows down handlers that answer late (ARCHITECTURE.md F5), so nothing slow
happens here: one SQLite lookup and one insert on the request's connection (migrations ran at start-up, so
opening one takes no lock). The worker does the rest.

Everyone who can open the app knows its ``application_token`` (every frame POST carries it, F3), so the token
proves an event is *for this app*, not that the portal sent it. Hence:

- The body is bounded before it is parsed: at most ``MAX_BYTES``, ``MAX_FIELDS`` fields, ``MAX_DEPTH`` levels of
  brackets (an event is well under a KiB). Anything else is refused with 413 or 400 in milliseconds.
- ``auth[member_id]`` must be a known, not uninstalled installation and ``auth[application_token]`` must equal
  the stored one (constant time, F4). Nothing from the body is registered as a log secret before that.
- ``ONAPPUPDATE`` is queued; the worker takes the version from the portal (``app.info``) and re-provisions only
  when it changed. It never adopts a token: an update that brought a new token is refused, the admin-checked
  install POST ("Reinstall") is where a new token comes from.
- When the event cannot be stored (the disk is full, or another writer held the database past the 30 s
  ``busy_timeout``) the answer is 503 and an ERROR line names the portal, the event and SQLite's reason: the
  event is never answered 200 without its row. Bitrix24 does not retry it (F5); the next reconcile recomputes
  every plan from the portal, so no figure stays wrong.
- ``ONAPPUNINSTALL`` changes nothing here: it is queued, and the worker acts on it only once the portal confirms
  it (the stored admin token no longer works; sync/worker.py). A forged or replayed uninstall is then ignored.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from b24app import logsafe
from b24app.db import get_db
from b24app.installations import UNINSTALLED, Installation, InstallationStore, audit
from b24app.phpquery import TooDeep, unflatten
from b24app.schema import DEAL
from b24app.storage import UNAVAILABLE, Store
from sync import inbox

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

MAX_BYTES = 64 * 1024
MAX_FIELDS = 200
MAX_DEPTH = 6  # data[FIELDS][ID] is 3 levels
UNINSTALL = "ONAPPUNINSTALL"



class BadEvent(ValueError):
    """The payload is not an event we can read; the message names what is wrong."""


class PayloadTooLarge(BadEvent):
    """The body is larger than any event."""


@dataclass(frozen=True)
class Event:
    name: str
    member_id: str
    application_token: str = field(repr=False)
    data: dict[str, Any]
    ts: int | None
    user_tokens: tuple[str, ...] = field(default=(), repr=False)  # auth[access_token], auth[refresh_token]

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
    data = payload.get("data")
    if data in (None, ""):
        data = {}
    if not isinstance(data, dict):
        raise BadEvent("data must be a set of fields")
    raw_ts = payload.get("ts")
    if raw_ts not in (None, "") and not str(raw_ts).isdigit():
        raise BadEvent("ts must be a unix time")
    tokens = tuple(str(auth.get(key) or "") for key in ("access_token", "refresh_token"))
    return Event(name=name.strip().upper(), member_id=member_id, application_token=token, data=data,
                 ts=int(str(raw_ts)) if raw_ts not in (None, "") else None, user_tokens=tokens)


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


def _app_update(store: InstallationStore, inst: Installation, event: Event) -> ResponseReturnValue:
    """A verified ONAPPUPDATE: queued (one pending row however many arrive); the worker asks the portal for the
    version and re-provisions only when it changed (sync/worker.py)."""
    queued = inbox.enqueue(store.db, inst.member_id, inbox.PROVISION, 0, 0, {}, event.ts)
    return _ok(queued=queued)


def read_form() -> list[tuple[str, str]]:
    """The body's fields, bounded before anything is parsed; raises BadEvent or PayloadTooLarge."""
    if request.content_length is not None and request.content_length > MAX_BYTES:
        raise PayloadTooLarge()
    body = request.stream.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise PayloadTooLarge()
    try:
        return parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True,
                         max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadEvent(f"more than {MAX_FIELDS} fields") from None


@bp.post("/events")
def receive() -> ResponseReturnValue:
    """Verify, enqueue, answer 200 (api-reference/events/index.md)."""
    try:
        event = parse_event(unflatten(read_form(), max_depth=MAX_DEPTH))
    except PayloadTooLarge:
        return _error(413, "payload_too_large", f"an event is at most {MAX_BYTES // 1024} KiB")
    except TooDeep:
        return _error(400, "malformed_event", f"more than {MAX_DEPTH} levels of brackets")
    except BadEvent as exc:
        return _error(400, "malformed_event", str(exc))
    try:
        return _receive(get_db(), event)
    except UNAVAILABLE as exc:  # the disk is full, the database stayed locked past busy_timeout, the server is gone
        log.error("portal %s: event %s NOT stored (%s); answered 503, reconcile will catch up",
                  event.member_id[:64], event.name[:64], exc)
        return _error(503, "storage_unavailable", "the event could not be stored")


def _receive(db: Store, event: Event) -> ResponseReturnValue:
    store = InstallationStore(db)
    inst = store.find(event.member_id)
    if inst is None or inst.status == UNINSTALLED:
        log.info("event %s for an unknown or uninstalled portal refused", event.name[:64])
        return _error(401, "invalid_application_token")
    if not _tokens_equal(inst.application_token, event.application_token):
        log.warning("portal %s: event %s with a wrong application_token refused", inst.member_id, event.name)
        if event.name == "ONAPPUPDATE":
            audit(db, inst.member_id, "app_update_refused", reason="application_token differs from the stored one")
        return _error(401, "invalid_application_token")
    logsafe.register_secret(*event.user_tokens)  # verified: these may now be masked wherever they appear
    if event.name == "ONAPPUPDATE":
        return _app_update(store, inst, event)
    if event.name == UNINSTALL:  # acted on once the portal confirms it (sync/worker.py)
        queued = inbox.enqueue(db, inst.member_id, UNINSTALL, 0, 0, event.data, event.ts)
        audit(db, inst.member_id, "uninstall_received", clean=event.data.get("CLEAN"))
        return _ok(queued=queued)
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
