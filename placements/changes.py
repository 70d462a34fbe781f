"""``GET /api/changes``: did the plans an open page shows change since it was rendered?

The page's poll URL comes from ``live.watch``; the answer comes from the app's SQLite only, never the portal.
It names only what was signed into that page for this session (``live.watched``): anything else is a 403.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, request

from placements import live, web
from placements.frames import frame_required

bp = web.blueprint("changes")


@bp.get("/api/changes")
@frame_required
def poll() -> Any:
    """``{"changed": true}`` when the worker recomputed one of the page's plans after its snapshot cursor,
    or the deal's plan in the local index is no longer the one the page showed."""
    page = live.watched(g.frame_user, request.args.get(live.WATCH_PARAM, ""))
    if page is None:
        abort(403)
    member_id = g.installation.member_id
    changed = live.plans_changed(member_id, page.plans, page.after)
    if not changed and page.deal:
        changed = live.deal_index(member_id, page.deal) != page.shown
    response = jsonify({"changed": changed})
    response.headers["Cache-Control"] = "no-store"
    return response
