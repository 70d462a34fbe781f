"""The portal's state: ONE SQLite file (sqlite-utils), with an in-memory cache of CRM items.

A new file is an empty portal; `seed.py` fills the standard pipeline, currencies and users.
All writes go straight to the file, so a restart keeps everything. Callers hold the Portal lock.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from b24sandbox.filters import install_sql_functions

SCHEMA: dict[str, tuple[dict[str, Any], Any]] = {
    "meta": ({"key": str, "value": str}, "key"),
    "users": ({"id": int, "data": str}, "id"),
    "currencies": ({"code": str, "data": str}, "code"),
    "statuses": ({"id": int, "entity_id": str, "status_id": str, "data": str}, "id"),
    "categories": ({"id": int, "entity_type_id": int, "data": str}, "id"),
    "types": ({"id": int, "entity_type_id": int, "data": str}, "id"),
    "items": ({"entity_type_id": int, "id": int, "data": str}, ("entity_type_id", "id")),
    "userfields": ({"id": int, "entity_id": str, "field_name": str, "data": str}, "id"),
    "apps": ({"client_id": str, "data": str}, "client_id"),
    "tokens": ({"access_token": str, "refresh_token": str, "client_id": str, "user_id": int,
                "access_expires": float, "refresh_expires": float, "revoked": int}, "access_token"),
    "placements": ({"id": int, "client_id": str, "placement": str, "data": str}, "id"),
    "event_handlers": ({"id": int, "client_id": str, "event": str, "data": str}, "id"),
    "offline_events": ({"id": int, "client_id": str, "object_key": str, "data": str}, "id"),
    "app_options": ({"client_id": str, "key": str, "value": str}, ("client_id", "key")),
    "webhooks": ({"user_id": int, "code": str, "scopes": str}, ("user_id", "code")),
    "notifications": ({"id": int, "user_id": int, "data": str}, "id"),
}


def connect(path: str | Path) -> sqlite_utils.Database:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    db = sqlite_utils.Database(conn)
    db.enable_wal()
    conn.execute("PRAGMA synchronous = NORMAL")
    for name, (columns, pk) in SCHEMA.items():
        if not db[name].exists():
            db[name].create(columns, pk=pk)
    db["tokens"].create_index(["refresh_token"], if_not_exists=True)
    install_sql_functions(conn)  # what the SQL of crm.item.list pages calls
    return db


class Store:
    """Rows of JSON documents keyed by id, plus counters and meta values."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.db = connect(path)
        self._items: dict[int, dict[int, dict[str, Any]]] = {}
        for row in self.db["items"].rows:
            self._items.setdefault(row["entity_type_id"], {})[row["id"]] = json.loads(row["data"])

    @property
    def is_new(self) -> bool:
        return self.meta("member_id") is None

    # meta and counters
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        self.db.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, str(value)])

    def next_id(self, counter: str, start: int = 1) -> int:
        value = int(self.meta(f"seq:{counter}", str(start - 1)) or 0) + 1
        self.set_meta(f"seq:{counter}", value)
        return value

    def peek_id(self, counter: str, start: int = 1) -> int:
        """The id ``next_id`` would hand out, without taking it."""
        return int(self.meta(f"seq:{counter}", str(start - 1)) or 0) + 1

    def new_member_id(self) -> str:
        member_id = secrets.token_hex(16)
        self.set_meta("member_id", member_id)
        return member_id

    # JSON document tables
    def rows(self, sql: str, args: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.db.conn.execute(sql, args or [])
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def docs(self, table: str, where: str | None = None, args: list[Any] | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT data FROM [{table}]" + (f" WHERE {where}" if where else "") + " ORDER BY rowid"
        return [json.loads(row[0]) for row in self.db.conn.execute(sql, args or []).fetchall()]

    def doc(self, table: str, pk: Any) -> dict[str, Any] | None:
        keys = SCHEMA[table][1]
        keys = keys if isinstance(keys, tuple) else (keys,)
        values = pk if isinstance(pk, tuple) else (pk,)
        where = " AND ".join(f"[{k}] = ?" for k in keys)
        row = self.db.conn.execute(f"SELECT data FROM [{table}] WHERE {where}", list(values)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, table: str, row: dict[str, Any], data: dict[str, Any]) -> None:
        """Insert or replace one document row (plain SQL: sqlite-utils' upsert introspects every time)."""
        values = {**row, "data": json.dumps(data, ensure_ascii=False)}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.db.conn.execute(f"INSERT OR REPLACE INTO [{table}] ({columns}) VALUES ({marks})", list(values.values()))

    def delete(self, table: str, pk: Any) -> None:
        try:
            self.db[table].delete(pk)
        except sqlite_utils.db.NotFoundError:
            pass

    # CRM items (cached)
    def items(self, entity_type_id: int) -> dict[int, dict[str, Any]]:
        return self._items.setdefault(int(entity_type_id), {})

    def save_item(self, entity_type_id: int, item: dict[str, Any]) -> None:
        self.items(entity_type_id)[int(item["id"])] = item
        self.put("items", {"entity_type_id": int(entity_type_id), "id": int(item["id"])}, item)

    def delete_item(self, entity_type_id: int, item_id: int) -> None:
        self.items(entity_type_id).pop(int(item_id), None)
        self.delete("items", (int(entity_type_id), int(item_id)))

    def close(self) -> None:
        self.db.conn.close()
