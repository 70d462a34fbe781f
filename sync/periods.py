"""Period end: open plans whose period is over and that are not fulfilled move to No cumplido; then every
closed recurring plan gets its next period's plan (``sync/successors.py``).

It is the reconcile with a given ``today``: the plan math says "period over and not fulfilled → F", and
the recompute writes the stage (``stage_map["F"]``) with the figures. "Today" is each portal's own date, in
its time zone (ARCHITECTURE.md F13), unless the caller names one date for all (``--today``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from b24app import planmath, series
from b24app.installations import Installation, InstallationStore
from b24app.rest.clients import clients_for
from b24app.storage import Store
from sync import recompute, reconcile, successors

log = logging.getLogger(__name__)


def close_periods(config: Mapping[str, Any], db: Store, today: date | None = None,
                  member_id: str | None = None, progress: reconcile.Progress | None = None,
                  now: datetime | None = None, hour: int | None = None) -> dict[str, recompute.Outcome]:
    """Recompute every open plan as of ``today`` (default: each portal's date at ``now``); returns per-portal
    outcomes (``Outcome.series``: the successors made). With ``hour``, only the portals whose local time at
    ``now`` is in that hour (the daily job runs every hour and closes each portal at its own
    ``B24_CLOSE_PERIODS_HOUR``)."""
    moment = now or datetime.now(UTC)

    def due(inst: Installation) -> bool:
        return hour is None or moment.astimezone(planmath.portal_zone(inst.time_zone)).hour == hour

    results = reconcile.reconcile_all(config, db, member_id=member_id, today=today, progress=progress,
                                      actor="close_periods", now=moment, due=due)
    store = InstallationStore(db)
    clients = clients_for(config)
    for member, outcome in results.items():
        inst = store.find(member)
        if outcome.error is not None or inst is None or not inst.is_active:
            continue
        day = today or recompute.portal_today(inst, moment)
        try:
            with clients.admin(inst) as client:
                outcome.series = successors.make_successors(client, db, inst, day, recompute.grace_days(config),
                                                            defaults=series.defaults_of(config))
        except Exception as exc:  # noqa: BLE001 - a failed series step is retried by the next run, never fatal
            log.warning("portal %s: next periods not made (%s: %s)", member, type(exc).__name__, exc)
            outcome.error = f"next periods: {type(exc).__name__}: {exc}"
    return results
