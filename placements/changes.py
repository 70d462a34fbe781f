"""``GET /api/changes``: did the plans an open page shows change since it was rendered?

The page's poll URL comes from ``live.watch``; the answer comes from the app's SQLite only, never the portal.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from placements import live, web
from placements.frames import frame_required

bp = web.blueprint("changes")


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip().isdigit()][:live.MAX_WATCHED]


@bp.get("/api/changes")
@frame_required
def poll() -> Any:
    """``{"changed": true}`` when the worker recomputed one of ``plans`` after snapshot ``after``, or the
    deal's plan in the local index is no longer ``dp``."""
    member_id = g.installation.member_id
    after = int(request.args["after"]) if request.args.get("after", "").isdigit() else 0
    changed = live.plans_changed(member_id, _ints(request.args.get("plans", "")), after)
    deal = request.args.get("deal", "")
    if not changed and deal.isdigit():
        shown = int(request.args["dp"]) if request.args.get("dp", "").isdigit() else 0
        changed = live.deal_index(member_id, int(deal)) != shown
    response = jsonify({"changed": changed})
    response.headers["Cache-Control"] = "no-store"
    return response
