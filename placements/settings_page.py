"""``/settings``: the administrator's page — is the app installed and healthy in this portal, in words, and the
actions an admin can take (re-run provisioning). Portal administrators only (``profile.ADMIN``).

The health checks are ``b24plans doctor``'s (sync/doctor.py): one batch call with the app's stored admin token,
the rest from the app's own database.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, current_app, g, request
from flask_babel import gettext, lazy_gettext

from b24app import alertstore, linkstore
from b24app.db import get_db
from b24app.manifest import load_manifest
from b24app.provisioning import provision
from b24app.provisioning.report import CREATED, FAILED
from b24app.rest.clients import clients_for
from placements import web
from placements.frames import frame_required
from sync import alerts, autolinker, doctor

log = logging.getLogger(__name__)
bp = web.blueprint("settings")

CHECK_NAMES = {
    "tokens": lazy_gettext("Access to Bitrix24"),
    "installation": lazy_gettext("Installation"),
    "provisioning": lazy_gettext("Set-up"),
    "portal": lazy_gettext("Connection to the portal"),
    "smart process": lazy_gettext("Smart process “Sales plans”"),
    "fields": lazy_gettext("Plan fields"),
    "stages": lazy_gettext("Plan stages"),
    "placements": lazy_gettext("Tabs in the CRM cards"),
    "events": lazy_gettext("Event handlers"),
    "reconcile": lazy_gettext("Periodic check of every plan"),
    "inbox": lazy_gettext("Event queue"),
}
STATUS_NAMES = {doctor.OK: lazy_gettext("Correct"), doctor.WARN: lazy_gettext("Attention"),
                doctor.FAIL: lazy_gettext("Action needed")}


def _admin() -> None:
    if not g.frame_user.is_admin:
        abort(403)


@web.notice_flag("provisioned")
def _provisioned(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    created, _, failed = value.partition("-")
    if failed not in ("", "0"):
        return {"notice": gettext("The set-up ran again, but some steps failed: see below.")}
    return {"notice": gettext("The set-up ran again: %(n)s item(s) created, the rest was already there.",
                              n=created if created.isdigit() else "0")}


@bp.get("/settings")
@frame_required
def index() -> Any:
    _admin()
    config = current_app.config
    report = doctor.check_installation(get_db(), g.installation, config, load_manifest(config.get("MANIFEST")))
    checks = [{"status": c.status, "status_name": STATUS_NAMES.get(c.status, c.status),
               "name": CHECK_NAMES.get(c.what, c.what), "detail": c.detail} for c in report.checks]
    schedule = {"worker": config.get("WORKER_INTERVAL"), "reconcile": config.get("RECONCILE_MINUTES"),
                "close": config.get("CLOSE_PERIODS_HOUR"), "scheduler": config.get("SCHEDULER"),
                "auto_link": autolinker.enabled(config),
                "to_decide": linkstore.pending_count(get_db(), g.installation.member_id)}
    return web.render("placements/settings.html", inst=g.installation, healthy=report.ok, checks=checks,
                      schedule=schedule, title=gettext("Settings"),
                      alert_switches=alertstore.switches(get_db(), g.installation.member_id),
                      alerts_scope=alerts.SCOPE in g.installation.scopes.replace(",", " ").split())


@web.notice_flag("alerts_saved")
def _alerts_saved(value: str | None) -> dict[str, Any]:
    return {"notice": gettext("The notification settings were saved.")} if value == "1" else {}


@bp.post("/settings/alerts")
@frame_required
def save_alerts() -> Any:
    """Turn each kind of alert on or off for this installation (an unticked box is off)."""
    _admin()
    alertstore.set_switches(get_db(), g.installation.member_id,
                            {kind: request.form.get(kind) == "1" for kind in alertstore.KINDS})
    log.info("portal %s: alert switches changed by user %s", g.installation.member_id, g.frame_user.user_id)
    return web.go("settings.index", alerts_saved=1)


@bp.post("/settings/provision")
@frame_required
def run_provisioning() -> Any:
    """Re-run provisioning with the app's stored admin tokens (creates only what is missing)."""
    _admin()
    inst = g.installation
    with clients_for(current_app.config).admin(inst) as client:
        done = provision.provision(client, get_db(), inst, current_app.config)
    log.info("portal %s: provisioning re-run from the settings page by user %s", inst.member_id,
             g.frame_user.user_id)
    return web.go("settings.index", provisioned=f"{done.count(CREATED)}-{done.count(FAILED) + bool(done.error)}")
