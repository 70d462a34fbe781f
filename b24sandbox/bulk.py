"""Many CRM items at once for benchmarks and large fixtures: the same defaults, coercion and stage rules as
``crm.item.add``, written in one transaction, with no events and no REST call (no rate limit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from b24sandbox import crm_write
from b24sandbox.auth import AuthContext
from b24sandbox.crm_model import type_info

if TYPE_CHECKING:
    from b24sandbox.portal import Portal


def add_items(portal: Portal, entity_type_id: int, rows: Iterable[dict[str, Any]], user_id: int = 1,
              original_uf_names: bool = True) -> list[int]:
    """Adds one item per ``fields`` dict as ``user_id`` would through ``crm.item.add``; returns the new ids.
    A row the portal would refuse raises its ``RestError`` and nothing is kept."""
    ctx = AuthContext("user", user_id)
    store = portal.store
    ids: list[int] = []
    with portal.lock:
        info = type_info(portal, entity_type_id)
        counter = f"item:{info.entity_type_id}"
        conn = store.db.conn
        conn.execute("BEGIN")
        try:
            for fields in rows:
                item_id = store.peek_id(counter)
                item = crm_write._defaults(portal, info, ctx, item_id)
                given = crm_write._apply(portal, info, item, dict(fields), original_uf_names)
                crm_write._stage_logic(portal, info, item, None, given, ctx)
                crm_write._check_required(info, item)
                store.next_id(counter)
                store.save_item(info.entity_type_id, item)
                ids.append(item_id)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            for item_id in ids:
                store.items(info.entity_type_id).pop(item_id, None)
            raise
    return ids
