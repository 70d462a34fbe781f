"""Installations keyed by ``member_id``: the installation store (save / find / delete).

``member_id`` never changes when a portal is renamed, so it is the key; the domain is data
(a renamed portal keeps its member_id). Tokens are never part of an Installation's repr.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from b24app.storage import Store

ACTIVE = "active"
NEEDS_REAUTH = "needs_reauth"
UNINSTALLED = "uninstalled"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Installation:
    member_id: str
    domain: str
    client_endpoint: str
    server_endpoint: str = "https://oauth.bitrix.info/rest/"
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: int = 0
    application_token: str = field(default="", repr=False)
    scopes: str = ""
    user_id: int | None = None
    lang: str = "la"
    app_version: str = ""
    type_id: int | None = None
    entity_type_id: int | None = None
    category_id: int | None = None
    field_map: dict[str, str] = field(default_factory=dict)  # suffix -> camelCase REST name
    stage_map: dict[str, str] = field(default_factory=dict)  # semantics P/S/F -> stage id
    #: list-field suffix -> XML id -> the portal's item id (``{"RECURRENCE": {"MONTHLY": 57}}``)
    enum_map: dict[str, dict[str, int]] = field(default_factory=dict)
    status: str = ACTIVE
    time_zone: str = ""  # the portal's UTC offset, ``-06:00`` (server.time); empty: not read yet
    installed_at: str | None = None
    uninstalled_at: str | None = None
    updated_at: str | None = None
    sessions_from: float = 0.0  # epoch seconds: frame sessions created before it are refused
    rate_burst: float | None = None  # this portal's own REST rate limit (``b24plans limits``); None: B24_RATE_BURST
    rate_per_second: float | None = None  # None: B24_RATE_PER_SECOND

    def rest_config(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        """The settings a REST client of this portal uses: the app's, with this installation's rate limit."""
        own = {k: v for k, v in (("RATE_BURST", self.rate_burst), ("RATE_PER_SECOND", self.rate_per_second))
               if v is not None}
        return {**config, **own} if own else config

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    @property
    def serves_frames(self) -> bool:
        """Frames use the person's own token: they work while the stored pair awaits re-authorisation."""
        return self.status in (ACTIVE, NEEDS_REAUTH)

    @property
    def is_provisioned(self) -> bool:
        return bool(self.entity_type_id and self.type_id and self.field_map
                    and {"P", "S", "F"} <= set(self.stage_map))

    def with_(self, **changes: Any) -> Installation:
        return replace(self, **changes)


def _to_row(inst: Installation) -> dict[str, Any]:
    row = asdict(inst)
    row["field_map"] = json.dumps(inst.field_map, sort_keys=True)
    row["stage_map"] = json.dumps(inst.stage_map, sort_keys=True)
    row["enum_map"] = json.dumps(inst.enum_map, sort_keys=True)
    row["updated_at"] = now_iso()
    return row


def _from_row(row: dict[str, Any]) -> Installation:
    data = dict(row)
    data["field_map"] = json.loads(data.get("field_map") or "{}")
    data["stage_map"] = json.loads(data.get("stage_map") or "{}")
    data["enum_map"] = json.loads(data.get("enum_map") or "{}")
    for key in ("access_token", "refresh_token", "application_token", "scopes", "domain", "lang",
                "app_version", "server_endpoint", "time_zone"):
        data[key] = data.get(key) or ""
    data["expires_at"] = int(data.get("expires_at") or 0)
    data["sessions_from"] = float(data.get("sessions_from") or 0)
    return Installation(**data)


class InstallationStore:
    """save / find / delete installations in the app's SQLite database."""

    def __init__(self, db: Store):
        self.db = db

    def save(self, inst: Installation) -> Installation:
        row = _to_row(inst)
        with self.db.transaction():
            self.db.table("installations").upsert(row, pk="member_id")
        return _from_row(row)

    def find(self, member_id: str) -> Installation | None:
        if not member_id:
            return None
        rows = list(self.db.query("SELECT * FROM installations WHERE member_id = ?", [member_id]))
        return _from_row(rows[0]) if rows else None

    def delete(self, member_id: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM installations WHERE member_id = ?", [member_id])

    def all(self, status: str | None = ACTIVE) -> list[Installation]:
        if status is None:
            rows = self.db.query("SELECT * FROM installations ORDER BY member_id")
        else:
            rows = self.db.query("SELECT * FROM installations WHERE status = ? ORDER BY member_id", [status])
        return [_from_row(r) for r in rows]

    def save_tokens(self, member_id: str, access_token: str, refresh_token: str, expires_at: int,
                    client_endpoint: str | None = None) -> None:
        """Persist a rotated token pair in one statement (atomic), before anyone uses it."""
        sets = "access_token = ?, refresh_token = ?, expires_at = ?, updated_at = ?, status = ?"
        args: list[Any] = [access_token, refresh_token, int(expires_at), now_iso(), ACTIVE]
        if client_endpoint:
            sets += ", client_endpoint = ?"
            args.append(client_endpoint)
        with self.db.transaction():
            self.db.execute(f"UPDATE installations SET {sets} WHERE member_id = ?", [*args, member_id])

    def set_status(self, member_id: str, status: str) -> None:
        extra = ", uninstalled_at = ?" if status == UNINSTALLED else ""
        args: list[Any] = [status, now_iso()] + ([now_iso()] if extra else [])
        with self.db.transaction():
            self.db.execute(f"UPDATE installations SET status = ?, updated_at = ?{extra} WHERE member_id = ?",
                            [*args, member_id])

    def save_provisioned(self, inst: Installation, *, type_id: int | None, entity_type_id: int | None,
                         category_id: int | None, field_map: dict[str, str], stage_map: dict[str, str],
                         enum_map: dict[str, dict[str, int]] | None = None) -> None:
        """Keep the smart-process ids, touching nothing else of the row (the REST client may have rotated the
        tokens meanwhile: a whole-row save of an older Installation would put a dead refresh token back)."""
        with self.db.transaction():
            changed = self.db.execute(
                "UPDATE installations SET type_id = ?, entity_type_id = ?, category_id = ?, field_map = ?, "
                "stage_map = ?, enum_map = ?, updated_at = ? WHERE member_id = ?",
                [type_id, entity_type_id, category_id, json.dumps(field_map, sort_keys=True),
                 json.dumps(stage_map, sort_keys=True), json.dumps(enum_map or {}, sort_keys=True), now_iso(),
                 inst.member_id],
            ).rowcount
        if not changed:  # not stored yet: nothing to clobber
            self.save(inst.with_(type_id=type_id, entity_type_id=entity_type_id, category_id=category_id,
                                 field_map=field_map, stage_map=stage_map, enum_map=enum_map or {}))

    def set_rate_limit(self, member_id: str, burst: float | None, per_second: float | None) -> None:
        """This portal's own REST rate limit (None: the settings' defaults)."""
        with self.db.transaction():
            self.db.execute("UPDATE installations SET rate_burst = ?, rate_per_second = ?, updated_at = ? "
                            "WHERE member_id = ?", [burst, per_second, now_iso(), member_id])

    def set_time_zone(self, member_id: str, time_zone: str) -> None:
        """The portal's UTC offset as it answered ``server.time`` (api-reference/common/system/server-time.md)."""
        with self.db.transaction():
            self.db.execute("UPDATE installations SET time_zone = ?, updated_at = ? WHERE member_id = ?",
                            [time_zone, now_iso(), member_id])

    def set_app_version(self, member_id: str, app_version: str) -> None:
        """The version the portal reports after an update: only that column (the tokens may be rotating)."""
        with self.db.transaction():
            self.db.execute("UPDATE installations SET app_version = ?, updated_at = ? WHERE member_id = ?",
                            [app_version, now_iso(), member_id])

    def mark_uninstalled(self, member_id: str) -> None:
        """ONAPPUNINSTALL: drop the tokens, keep the portal's ids (its CRM data stays); no frame session
        opened before it counts again."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE installations SET access_token = '', refresh_token = '', expires_at = 0, status = ?, "
                "uninstalled_at = ?, updated_at = ?, sessions_from = ? WHERE member_id = ?",
                [UNINSTALLED, now_iso(), now_iso(), time.time(), member_id],
            )


def audit(db: Store, member_id: str, action: str, actor: str = "app", **detail: Any) -> None:
    """Append to the audit log. Never pass tokens in ``detail``."""
    with db.transaction():
        db.table("audit_log").insert({"member_id": member_id, "at": now_iso(), "actor": actor, "action": action,
                                "detail": json.dumps(detail, default=str, ensure_ascii=False)})


def prune_audit(db: Store, before: datetime) -> int:
    """Delete audit rows written before ``before``; returns the count."""
    with db.transaction():
        return db.execute("DELETE FROM audit_log WHERE at < ?", [before.isoformat(timespec="seconds")]).rowcount
