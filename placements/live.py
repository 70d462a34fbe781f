"""Pages that follow the worker: figures recomputed right after a save (F22) and a cheap "did my plans
change?" poll for open pages (F21).

The poll answers from the app's own SQLite only (``plan_snapshots`` and ``deal_plan``, written by the
worker in sync/recompute.py): it costs no portal REST call, whatever the number of open frames.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import current_app, g, jsonify, request

from b24app import planstore
from b24app.db import get_db
from b24app.installations import Installation
from b24app.rest.clients import clients_for
from placements import web
from placements.frames import frame_required

log = logging.getLogger(__name__)
bp = web.blueprint("live")

RECOMPUTE_READ_TIMEOUT = 10.0  # seconds: the save's redirect must not wait long for the portal
MAX_WATCHED = 100


def recompute_now(inst: Installation, plan_id: int) -> None:
    """Recompute one plan through the worker's code (sync.recompute) with the installation's admin tokens,
    bounded (short read timeout, one retry). On failure only log: the worker catches up on the event."""
    from sync import recompute

    config = dict(current_app.config)
    config["HTTP_READ_TIMEOUT"] = min(float(config.get("HTTP_READ_TIMEOUT") or 70), RECOMPUTE_READ_TIMEOUT)
    config["MAX_RETRIES"] = 1
    try:
        with clients_for(config).admin(inst) as client:
            outcome = recompute.recompute_plans(client, get_db(), inst, [plan_id], actor="plan-form")
    except Exception as exc:  # noqa: BLE001 - never fail a save that the portal already accepted
        log.warning("portal %s plan %s: recompute after save failed (%s); the worker will catch up",
                    inst.member_id, plan_id, type(exc).__name__)
        return
    if outcome.failed:
        log.warning("portal %s plan %s: recompute after save failed: %s", inst.member_id, plan_id,
                    outcome.failed.get(plan_id))


def snapshot_cursor(member_id: str) -> int:
    """The newest ``plan_snapshots`` row of the portal: what a page saw when it was rendered."""
    return planstore.latest_snapshot(get_db(), member_id)


def deal_index(member_id: str, deal_id: int) -> int:
    return planstore.plan_of_deal(get_db(), member_id, deal_id)


def watch_url(plan_ids: Iterable[int], deal_id: int = 0) -> str:
    """The poll URL for a page showing ``plan_ids`` (and, on a deal tab, ``deal_id``); "" for nothing."""
    ids = sorted({int(i) for i in plan_ids if int(i) > 0})[:MAX_WATCHED]
    if not ids and not deal_id:
        return ""
    member_id = g.installation.member_id
    values: dict[str, Any] = {"plans": ",".join(map(str, ids)), "after": snapshot_cursor(member_id)}
    if deal_id:
        values.update(deal=deal_id, dp=deal_index(member_id, deal_id))
    return web.furl("live.changes", **values)


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip().isdigit()][:MAX_WATCHED]


@bp.get("/api/changes")
@frame_required
def changes() -> Any:
    """``{"changed": true}`` when the worker recomputed one of ``plans`` after snapshot ``after``, or the
    deal's plan in the local index is no longer ``dp``. SQLite only."""
    member_id = g.installation.member_id
    plans = _ints(request.args.get("plans", ""))
    after = int(request.args["after"]) if request.args.get("after", "").isdigit() else 0
    changed = planstore.changed_since(get_db(), member_id, after, plans)
    deal = request.args.get("deal", "")
    if not changed and deal.isdigit():
        shown = int(request.args["dp"]) if request.args.get("dp", "").isdigit() else 0
        changed = deal_index(member_id, int(deal)) != shown
    response = jsonify({"changed": changed})
    response.headers["Cache-Control"] = "no-store"
    return response
