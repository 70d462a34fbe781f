"""The plan's outlook in the frames: the burn-up from the app's snapshots, 'Crear negociación por el
pendiente', the 'En riesgo' filter and forecast roll-ups, the alert switches on the settings page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from b24app import alertstore, planstore
from b24app.db import connect
from tests.unit.placements.conftest import ETI

NBSP = "\xa0"
TODAY = datetime.now(UTC).date()


def add_plan(fake, plan_id=1, **fields):
    fake.plans[plan_id] = {"id": plan_id, "title": "Acme Research · ahora", "companyId": 5, "contactId": 0,
                           "begindate": f"{TODAY - timedelta(days=5)}T00:00:00+00:00",
                           "closedate": f"{TODAY + timedelta(days=20)}T00:00:00+00:00",
                           "assignedById": 2, "opportunity": 10000, "currencyId": "EUR", "stageId": "DT1030_7:NEW",
                           "ufCrm5Probability": 50, "ufCrm5Executed": 2500, "ufCrm5Remainder": 7500,
                           "ufCrm5Execution": 25, "ufCrm5Probable": 5000, **fields}


def snapshots(app, plan_id=1, days=3, open_pipeline="3000"):
    db = connect(app.config["DATABASE"])
    for n in range(days):
        planstore.add_snapshot(db, "member-1", plan_id, amount="10000", currency="EUR", won="2500",
                               remainder="7500", execution="25", probable="5000", status="P", forecast="4000",
                               open_pipeline=open_pipeline, at_risk=True,
                               day=(TODAY - timedelta(days=days - 1 - n)).isoformat(), kind=planstore.DAILY)
    db.close()


def test_the_outlook_shows_coverage_and_pace_from_the_stored_figures(app, frame, fake):
    """Coverage = (won 2,500 + open 3,000) ÷ 10,000 = 55 %; pace = execution 25 % ÷ elapsed 6 of 26 days
    (23.08 %) = 1.08 — on pace, not behind."""
    add_plan(fake)
    snapshots(app, days=1)
    page = frame.client.get(f"/plans/1/edit?_s={frame.s}").get_data(as_text=True).replace(NBSP, " ")
    assert 'id="kpi-coverage">55 %<' in page
    assert 'id="kpi-pace">1,08<' in page
    assert 'title="ejecución % ÷ parte transcurrida del período; 1 es ir al ritmo"' in page


def test_the_plan_form_draws_the_burn_up_from_the_snapshots_without_calling_the_portal(app, frame, fake):
    add_plan(fake)
    snapshots(app, days=3)
    calls = len(fake.calls)
    page = frame.client.get(f"/plans/1/edit?_s={frame.s}").get_data(as_text=True).replace(NBSP, " ")
    assert page.count('class="won-point"') == 3 and 'id="burnup-table"' in page
    assert "Hacia dónde va el plan" in page and "4.500,00 €" in page  # 10,000 − 2,500 won − 3,000 open
    assert "Crear negociación por el pendiente" in page
    assert not any(m == "plan_snapshots" for m, _ in fake.calls[calls:])


def test_the_gap_deal_is_created_for_the_client_with_the_uncovered_amount_inside_the_period(app, frame, fake):
    add_plan(fake)
    snapshots(app)
    response = frame.client.post("/plans/1/gap-deal", data={"csrf_token": frame.csrf, "_s": frame.s,
                                                             "back": "plans"})
    assert response.status_code == 303 and "gap_deal=" in response.headers["Location"]
    (method, params), = [w for w in fake.writes if w[0] == "crm.item.add"]
    fields = params["fields"]
    assert params["entityTypeId"] == 2 and fields["companyId"] == 5 and fields[f"parentId{ETI}"] == 1
    assert (fields["opportunity"], fields["currencyId"], fields["closedate"]) == ("4500", "EUR", TODAY.isoformat())


def test_no_gap_deal_when_the_open_deals_cover_the_remainder(app, frame, fake):
    add_plan(fake)
    snapshots(app, open_pipeline="9000")
    page = frame.client.get(f"/plans/1/edit?_s={frame.s}").get_data(as_text=True)
    assert "gap-deal" not in page
    response = frame.client.post("/plans/1/gap-deal", data={"csrf_token": frame.csrf, "_s": frame.s})
    assert response.status_code == 400 and not [w for w in fake.writes if w[0] == "crm.item.add"]


def test_the_at_risk_filter_asks_the_portal_for_the_flag(app, frame, fake, inst):
    db = connect(app.config["DATABASE"])
    from b24app.installations import InstallationStore

    InstallationStore(db).save(inst.with_(field_map={**inst.field_map, "FORECAST": "ufCrm5Forecast",
                                                     "RISK": "ufCrm5Risk"}))
    db.close()
    add_plan(fake, ufCrm5Risk=1, ufCrm5Forecast=4000)  # what a boolean filter compares
    page = frame.client.get(f"/?risk=Y&_s={frame.s}").get_data(as_text=True)
    lists = [p for m, p in fake.calls if m == "crm.item.list" and p.get("entityTypeId") == ETI]
    assert any(p["filter"].get("ufCrm5Risk") == 1 for p in lists)
    assert 'class="badge badge-risk risk-mark"' in page and 'value="Y" selected' in page


def test_the_settings_page_turns_alert_kinds_off(app, frame, fake):
    page = frame.client.get(f"/settings?_s={frame.s}").get_data(as_text=True)
    assert 'id="alert-switches"' in page and 'id="alert-at_risk" checked' in page
    response = frame.client.post("/settings/alerts", data={"csrf_token": frame.csrf, "_s": frame.s,
                                                           "at_risk": "1"})
    assert response.status_code == 303
    db = connect(app.config["DATABASE"])
    assert alertstore.switches(db, "member-1") == {"at_risk": True, "fulfilled": False, "unfulfilled": False}
    db.close()
