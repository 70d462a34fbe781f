"""Sending the queued alerts (sync/alerts.py): once each, in the responsible's language, only the kinds switched
on, nothing without the im scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b24app import alertstore
from b24app.installations import InstallationStore
from sync import alerts


@dataclass
class Batch:
    result: dict[str, Any]
    errors: dict[str, Exception] = field(default_factory=dict)


class Portal:
    def __init__(self, languages: dict[int, str]):
        self.languages = languages
        self.sent: list[dict[str, Any]] = []
        self.http_calls = 0

    def batch(self, commands: dict[str, tuple[str, dict[str, Any]]], halt: bool = False) -> Batch:
        self.http_calls += 1
        out = {}
        for key, (method, params) in commands.items():
            if method == "user.get":
                uid = int(params["ID"])
                out[key] = [{"ID": str(uid), "LANGUAGE_ID": self.languages[uid]}] if uid in self.languages else []
            elif method == "im.notify.system.add":
                self.sent.append(params)
                out[key] = len(self.sent)
        return Batch(out)


def plan_row(plan_id: int, user: int) -> dict[str, Any]:
    return {"id": plan_id, "title": f"Plan {plan_id}", "assignedById": user, "begindate": "2026-01-01",
            "closedate": "2026-01-31T00:00:00+00:00"}


def test_each_alert_goes_once_in_the_responsibles_language(db, inst):
    inst = InstallationStore(db).save(inst.with_(scopes="crm,im,placement"))
    rows = [alertstore.alert_row(plan_row(1, 5), alertstore.AT_RISK),
            alertstore.alert_row(plan_row(2, 6), alertstore.FULFILLED),
            alertstore.alert_row(plan_row(3, 7), alertstore.UNFULFILLED)]
    assert alertstore.queue(db, "m1", rows) == 3
    assert alertstore.queue(db, "m1", rows) == 0  # the same plan, kind and period: never twice
    portal = Portal({5: "ru", 6: "en"})  # 7 has no language: Spanish
    assert alerts.send_pending(portal, db, inst, {"CLIENT_ID": "local.app"}) == 3
    texts = {p["USER_ID"]: p["MESSAGE"] for p in portal.sent}
    assert texts[5].startswith("План продаж «Plan 1» под угрозой")
    assert texts[6].startswith("The sales plan “Plan 2” is fulfilled")
    assert texts[7].startswith("El plan de ventas “Plan 3” terminó sin cumplirse")
    assert "http://portal.test/marketplace/app/local.app/?PARAMS=%7B%22plan%22%3A%223%22%7D" in texts[7]
    assert portal.http_calls == 2  # the languages, then the notifications
    assert alerts.send_pending(portal, db, inst, {}) == 0 and portal.http_calls == 2  # nothing left, no call


def test_kinds_switched_off_and_a_missing_scope_send_nothing(db, inst):
    inst = InstallationStore(db).save(inst.with_(scopes="crm,im"))
    alertstore.set_switches(db, "m1", {alertstore.AT_RISK: False})
    alertstore.queue(db, "m1", [alertstore.alert_row(plan_row(1, 5), alertstore.AT_RISK),
                                alertstore.alert_row(plan_row(2, 0), alertstore.FULFILLED)])
    portal = Portal({5: "la"})
    assert alerts.send_pending(portal, db, inst, {}) == 0 and portal.sent == []
    assert {a["kind"]: a["error"] for a in alertstore.sent(db, "m1")} == {
        alertstore.AT_RISK: "switched off", alertstore.FULFILLED: "no responsible"}
    no_im = inst.with_(scopes="crm,placement")
    alertstore.queue(db, "m1", [alertstore.alert_row(plan_row(3, 5), alertstore.FULFILLED)])
    assert alerts.send_pending(portal, db, no_im, {}) == 0 and portal.http_calls == 0
