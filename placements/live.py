"""Pages that follow the worker: figures recomputed right after a save, and what an open page watches so it
can ask cheaply whether its plans changed (the poll itself: placements/changes.py).

The poll answers from the app's own SQLite only (``plan_snapshots`` and ``deal_plan``, written by the
worker in sync/recompute.py): it costs no portal REST call, whatever the number of open frames. Since it
makes no CRM check of its own, it answers only for what the page showed: the plan ids, the deal and the
cursors are signed into one parameter when the page is rendered (a salt bound to the frame session), and
the poll reads nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from b24app import planstore
from b24app.db import get_db
from b24app.installations import Installation
from b24app.rest.clients import clients_for
from placements import frames, web

log = logging.getLogger(__name__)

RECOMPUTE_READ_TIMEOUT = 10.0  # seconds: the save's redirect must not wait long for the portal
MAX_WATCHED = 100
WATCH_PARAM = "w"  # the poll's one parameter (watch_url)


@dataclass(frozen=True)
class Watched:
    """What a page showed when it was rendered: its plans, the snapshot cursor, the deal and the deal's plan."""

    plans: list[int]
    after: int
    deal: int = 0
    shown: int = 0


def recompute_now(inst: Installation, plan_id: int) -> None:
    """Recompute one plan through the worker's code (sync.recompute) with the installation's admin tokens,
    bounded (short read timeout, one retry). On failure only log: the worker catches up on the event."""
    from sync import recompute

    config = dict(current_app.config)
    config["HTTP_READ_TIMEOUT"] = min(float(config.get("HTTP_READ_TIMEOUT") or 70), RECOMPUTE_READ_TIMEOUT)
    config["MAX_RETRIES"] = 1
    try:
        with clients_for(config).admin(inst) as client:
            outcome = recompute.recompute_plans(client, get_db(), inst, [plan_id], actor="plan-form",
                                                grace_days=recompute.grace_days(config),
                                        settings=recompute.forecast_settings(config))
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
    values: dict[str, Any] = {"plans": ids, "after": snapshot_cursor(member_id)}
    if deal_id:
        values.update(deal=int(deal_id), dp=deal_index(member_id, int(deal_id)))
    # fetched by app.js, which sends the session in a header: the URL carries no ``_s``
    return url_for("changes.poll", w=_signer(g.frame_user).dumps(values))


def _signer(user: frames.FrameUser) -> URLSafeTimedSerializer:
    return frames.signer(f"live-watch.{user.sid}")


def watched(user: frames.FrameUser, token: str) -> Watched | None:
    """The ids signed into a page of ``user``'s session by ``watch_url``; None for anything else."""
    try:
        value = _signer(user).loads(token, max_age=frames.SESSION_SECONDS)
    except BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    plans = value.get("plans")
    numbers: list[Any] = [value.get("after"), value.get("deal", 0), value.get("dp", 0)]
    if not isinstance(plans, list) or not all(isinstance(i, int) for i in plans + numbers):
        return None
    after, deal, shown = numbers
    return Watched(plans[:MAX_WATCHED], after, deal, shown)


def plans_changed(member_id: str, plan_ids: list[int], after: int) -> bool:
    """Whether the worker wrote a snapshot of one of ``plan_ids`` after snapshot ``after``."""
    return planstore.changed_since(get_db(), member_id, after, plan_ids)


def watch(plan_ids: Iterable[int], deal_id: int = 0) -> dict[str, str]:
    """The template context of a page that shows ``plan_ids`` (and, on a deal tab, ``deal_id``): the poll
    URL and the GET URL that re-renders the page with a fresh session token (notice flags dropped);
    nothing when there is nothing to watch."""
    if request.method != "GET" or g.get("frame_user") is None or g.get("installation") is None \
            or not request.endpoint:
        return {}
    src = watch_url([i for i in plan_ids if i], deal_id)
    if not src:
        return {}
    dropped = (frames.SESSION_PARAM, *web.notice_flags())
    args = {k: v for k, v in request.args.items() if k not in dropped}
    return {"live_src": src, "live_reload": web.furl(request.endpoint, **(request.view_args or {}), **args)}
