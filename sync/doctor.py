"""``b24plans doctor``: is each installation healthy, and if not, what should an admin do?

Per installation, with the stored admin tokens and ONE batch call: the tokens are accepted (``app.info``), the
smart process, its user fields and its stages exist, the app's placements and event handlers are bound to this
app's URLs; from the app's own database: the last reconcile and how it ended, the inbox backlog and its oldest
pending event. Once: the database's integrity. Nothing is repaired unless asked (``fix``: re-run provisioning).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from b24app import jobruns
from b24app.installations import ACTIVE, NEEDS_REAUTH, Installation, InstallationStore
from b24app.manifest import Manifest, load_manifest
from b24app.provisioning import provision
from b24app.rest.clients import clients_for
from b24app.rest.errors import AuthError, B24Error
from b24app.storage import Store
from sync import inbox

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "FAIL"
STALE_INBOX = timedelta(minutes=10)  # a pending event older than this: no worker is draining
PORTAL_TIMEOUT = 15.0  # seconds to wait for the portal's answer to the check


@dataclass(frozen=True)
class Check:
    status: str  # ok / warn / FAIL
    what: str
    detail: str = ""
    todo: str = ""  # what to do about it


@dataclass
class Report:
    member_id: str
    domain: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def add(self, status: str, what: str, detail: str = "", todo: str = "") -> None:
        self.checks.append(Check(status, what, detail, todo))


def _items(value: Any, key: str = "") -> list[dict[str, Any]]:
    if isinstance(value, Mapping) and key:
        value = value.get(key, [])
    return [v for v in (value or []) if isinstance(v, Mapping)]  # type: ignore[misc]


def _portal_checks(report: Report, inst: Installation, answers: Mapping[str, Any], errors: Mapping[str, B24Error],
                   manifest: Manifest, public_url: str) -> None:
    reprovision = "run `b24plans doctor --fix` (re-runs provisioning)"
    if "info" in errors:
        report.add(FAIL, "tokens", str(errors["info"]), "an administrator must open the app in Bitrix24")
        return
    report.add(OK, "tokens", "the portal accepts the app's stored admin token")
    type_ = answers.get("type", {}).get("type") if isinstance(answers.get("type"), Mapping) else None
    if "type" in errors or not type_ or int(type_.get("entityTypeId") or 0) != inst.entity_type_id:
        report.add(FAIL, "smart process", f"type {inst.type_id} / entityTypeId {inst.entity_type_id} not found",
                   reprovision)
    else:
        report.add(OK, "smart process", f"{type_.get('title')} (entityTypeId {inst.entity_type_id})")
    described = answers.get("fields")
    names = set((described.get("fields") or {}) if isinstance(described, Mapping) else ())
    missing = sorted(name for name in inst.field_map.values() if name not in names)
    report.add(FAIL if missing else OK, "fields", ", ".join(missing) + " missing" if missing
               else f"{len(inst.field_map)} user fields", reprovision if missing else "")
    stages = {str(s.get("STATUS_ID")) for s in _items(answers.get("stages"))}
    lost = sorted(sid for sid in inst.stage_map.values() if sid not in stages)
    report.add(FAIL if lost else OK, "stages", ", ".join(lost) + " missing" if lost else "Activo / Cumplido / No "
               "cumplido", reprovision if lost else "")
    base = public_url.rstrip("/")
    bound = {(str(p.get("placement", "")).upper(), str(p.get("handler", "")))
             for p in _items(answers.get("placements"))}
    unbound = [p.code for p in manifest.placements if (p.code, base + p.handler) not in bound]
    report.add(FAIL if unbound else OK, "placements", ", ".join(unbound) + f" not bound to {base}" if unbound
               else f"{len(manifest.placements)} tabs bound to {base}", reprovision if unbound else "")
    handler = base + manifest.handlers["events"]
    events = {str(e.get("event", "")).upper() for e in _items(answers.get("events")) if e.get("handler") == handler}
    deaf = [e for e in manifest.events if e not in events]
    report.add(FAIL if deaf else OK, "events", ", ".join(deaf) + f" not bound to {handler}" if deaf
               else f"{len(manifest.events)} events bound to {handler}", reprovision if deaf else "")


def _local_checks(report: Report, db: Store, inst: Installation, config: Mapping[str, Any],
                  now: datetime) -> None:
    run = jobruns.last(db, inst.member_id, "reconcile")
    every = timedelta(minutes=int(config.get("RECONCILE_MINUTES") or 15))
    jobs_todo = "start the jobs (`b24plans jobs`, or B24_SCHEDULER=on in one web process), or run them from cron"
    installed = datetime.fromisoformat(inst.installed_at) if inst.installed_at else now
    if run is None:  # a fresh install has a grace of three intervals; after that the sweeps are not running
        report.add(WARN if now - installed <= 3 * every else FAIL, "reconcile", "has not run yet", jobs_todo)
    elif not run.ok:
        report.add(FAIL, "reconcile", f"last run {run.at:%Y-%m-%d %H:%M} UTC failed: "
                   f"{run.detail.get('error') or str(run.detail.get('failed')) + ' plan(s) failed'}",
                   "see the log of that run; `b24plans reconcile --member-id " + inst.member_id + "` retries it")
    elif now - run.at > 3 * every:  # lost events are repaired only by this sweep: its absence is a fault
        report.add(FAIL, "reconcile", f"last run {run.at:%Y-%m-%d %H:%M} UTC, more than {3 * every} ago", jobs_todo)
    else:
        report.add(OK, "reconcile", f"last run {run.at:%Y-%m-%d %H:%M} UTC: {run.detail.get('plans')} plan(s), "
                   f"{run.detail.get('updated')} updated")
    pending, oldest = inbox.backlog(db, inst.member_id)
    if pending and oldest is not None and now - oldest > STALE_INBOX:
        report.add(FAIL, "inbox", f"{pending} event(s) pending, the oldest since {oldest:%Y-%m-%d %H:%M} UTC",
                   jobs_todo)
    else:
        report.add(OK, "inbox", f"{pending} event(s) pending")


def check_installation(db: Store, inst: Installation, config: Mapping[str, Any],
                       manifest: Manifest, now: datetime | None = None) -> Report:
    report = Report(inst.member_id, inst.domain)
    if inst.status == NEEDS_REAUTH:
        report.add(FAIL, "tokens", "Bitrix24 refused the stored refresh token", "an administrator must open the "
                   "app in Bitrix24 (Applications → Planes de ventas)")
    elif inst.status != ACTIVE:
        report.add(WARN, "installation", inst.status, "open the app in Bitrix24 to install it again")
        return report
    elif not inst.is_provisioned:
        report.add(FAIL, "provisioning", "the smart process is not set up", "run `b24plans doctor --fix`")
    else:
        commands: dict[str, tuple[str, dict[str, Any]]] = {
            "info": ("app.info", {}),
            "type": ("crm.type.get", {"id": inst.type_id}),
            "fields": ("crm.item.fields", {"entityTypeId": inst.entity_type_id}),
            "stages": ("crm.status.list", {"filter": {
                "ENTITY_ID": f"DYNAMIC_{inst.entity_type_id}_STAGE_{inst.category_id or 0}"}}),
            "placements": ("placement.get", {}),
            "events": ("event.get", {}),
        }
        quick = {**config, "HTTP_READ_TIMEOUT": min(float(config.get("HTTP_READ_TIMEOUT") or 70), PORTAL_TIMEOUT),
                 "MAX_RETRIES": 1}  # a check must answer in seconds, even when the portal does not
        try:
            with clients_for(quick).admin(inst) as client:
                result = client.batch(commands)
            _portal_checks(report, inst, result.result, result.errors, manifest, str(config.get("PUBLIC_URL") or ""))
        except AuthError as exc:  # the whole call refused: the stored tokens no longer work
            report.add(FAIL, "tokens", f"{exc.code or type(exc).__name__}: the portal refused the app's stored "
                       "token", "an administrator must open the app in Bitrix24 (Applications → Planes de ventas)")
        except B24Error as exc:
            report.add(FAIL, "portal", f"{type(exc).__name__}: {exc}", "is the portal reachable from this server?")
    _local_checks(report, db, inst, config, now or datetime.now(UTC))
    return report


def database_check(db: Store) -> Check:
    rows = db.integrity()
    if rows == ["ok"]:
        return Check(OK, "database", "integrity check passed")
    return Check(FAIL, "database", "; ".join(map(str, rows[:5])), "restore the latest `b24plans backup`")


def doctor(config: Mapping[str, Any], db: Store, member_id: str | None = None,
           fix: bool = False) -> tuple[Check, Iterator[Report]]:
    """The database check, and one report per installation (all of them, uninstalled ones too, or one) made as
    the caller takes it, so a command can print each portal's checks as soon as they are known."""
    manifest = load_manifest(config.get("MANIFEST"))
    store = InstallationStore(db)
    targets = [i for i in [store.find(member_id)] if i] if member_id else store.all(status=None)

    def reports() -> Iterator[Report]:
        for inst in targets:
            if fix and inst.is_active:
                with clients_for(config).admin(inst) as client:
                    provision.provision(client, db, inst, config, manifest)
                inst = store.find(inst.member_id) or inst
            yield check_installation(db, inst, config, manifest)

    return database_check(db), reports()
