"""Bad plan input, tried as a person would: a table of hostile values through the plan form over real HTTP (each
answered with the form again (HTTP 400), the message in the person's language beside its field, the value never
reflected unescaped, nothing written to the portal), and through the plan card's own fields (the worker flags the
plan, keeps its figures sane and never crashes; the deal tab, like the plans list and the client tab, shows the flag).
"""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pytest
from flask_babel import force_locale
from test_race_trials import live_app_config

from placements.messages import _TEXTS
from tests.integration.test_ui_forms import hidden_and_checked
from tests.integration.test_ui_support import Frame, webhook

pytestmark = [pytest.mark.integration, pytest.mark.slow]
__all__ = ["live_app_config"]  # the trials' fixture: no client-side pacing against the unlimited sandbox

FIRED = 4  # a user the test marks as dismissed (ACTIVE = false) in the portal
SCRIPT = "<script>alert(1)</script>"

# (what is wrong, the form's changes, the deals ticked (OTHER: a deal of another client), the field, the code)
OTHER = "other-client-deal"
BAD_FORM: list[tuple[str, dict[str, str], list[str], str, str]] = [
    ("negative amount", {"amount": "-1"}, [], "amount", "amount_not_positive"),
    ("zero amount", {"amount": "0"}, [], "amount", "amount_not_positive"),
    ("zero with decimals", {"amount": "0,00"}, [], "amount", "amount_not_positive"),
    ("minus zero", {"amount": "-0"}, [], "amount", "amount_not_positive"),
    ("NaN", {"amount": "NaN"}, [], "amount", "amount_not_number"),
    ("lower-case nan", {"amount": "nan"}, [], "amount", "amount_not_number"),
    ("infinity", {"amount": "Infinity"}, [], "amount", "amount_not_number"),
    ("minus infinity", {"amount": "-Infinity"}, [], "amount", "amount_not_number"),
    ("1e30", {"amount": "1e30"}, [], "amount", "amount_too_large"),
    ("a quadrillion", {"amount": "1000000000000000"}, [], "amount", "amount_too_large"),
    ("twenty digits", {"amount": "9" * 20}, [], "amount", "amount_too_large"),
    ("12 decimals", {"amount": "12.123456789012"}, [], "amount", "amount_too_precise"),
    ("1e-30", {"amount": "1e-30"}, [], "amount", "amount_too_precise"),
    ("words", {"amount": "mucho dinero"}, [], "amount", "amount_not_number"),
    ("hex", {"amount": "0x10"}, [], "amount", "amount_not_number"),
    ("script as amount", {"amount": SCRIPT}, [], "amount", "amount_not_number"),
    ("empty amount", {"amount": ""}, [], "amount", "amount_required"),
    ("blank amount", {"amount": "   "}, [], "amount", "amount_required"),
    ("probability 101", {"probability": "101"}, [], "probability", "probability_range"),
    ("probability -1", {"probability": "-1"}, [], "probability", "probability_range"),
    ("probability 100.01", {"probability": "100.01"}, [], "probability", "probability_range"),
    ("probability 1e3", {"probability": "1e3"}, [], "probability", "probability_range"),
    ("probability NaN", {"probability": "NaN"}, [], "probability", "probability_not_number"),
    ("probability in words", {"probability": "alta"}, [], "probability", "probability_not_number"),
    ("probability as markup", {"probability": "<b>50</b>"}, [], "probability", "probability_not_number"),
    ("no probability", {"probability": ""}, [], "probability", "probability_required"),
    ("reversed dates", {"begindate": "2026-12-31", "closedate": "2026-01-01"}, [], "closedate",
     "end_before_start"),
    ("no start date", {"begindate": ""}, [], "begindate", "date_invalid"),
    ("no end date", {"closedate": ""}, [], "closedate", "date_invalid"),
    ("30 February", {"begindate": "2026-02-30"}, [], "begindate", "date_invalid"),
    ("a day-first date", {"closedate": "31/12/2026"}, [], "closedate", "date_invalid"),
    ("a zero date", {"begindate": "0000-00-00"}, [], "begindate", "date_invalid"),
    ("unknown period", {"period": "decade"}, [], "period", "period_unknown"),
    ("script as period", {"period": SCRIPT}, [], "period", "period_unknown"),
    ("unknown currency", {"currency": "BTC"}, [], "currency", "currency_unknown"),
    ("no currency", {"currency": ""}, [], "currency", "currency_unknown"),
    ("markup as currency", {"currency": "<svg onload=alert(1)>"}, [], "currency", "currency_unknown"),
    ("no client", {"client": ""}, [], "client", "client_missing"),
    ("a client of no kind", {"client": "XX_5"}, [], "client", "client_missing"),
    ("client 0", {"client": "CO_0"}, [], "client", "client_missing"),
    ("a client that does not exist", {"client": "CO_999999"}, [], "client", "client_not_found"),
    ("a contact that does not exist", {"client": "C_999999"}, [], "client", "client_not_found"),
    ("SQL in the client", {"client": "CO_1' OR 1=1 --"}, [], "client", "client_missing"),
    ("an unknown responsible", {"assigned_by_id": "99"}, [], "assigned_by_id", "responsible_unknown"),
    ("a dismissed responsible", {"assigned_by_id": str(FIRED)}, [], "assigned_by_id", "responsible_unknown"),
    ("responsible 0", {"assigned_by_id": "0"}, [], "assigned_by_id", "responsible_unknown"),
    ("responsible as text", {"assigned_by_id": "admin"}, [], "assigned_by_id", "responsible_unknown"),
    ("a deal that does not exist", {}, ["999999"], "deals", "deal_not_found"),
    ("a deal of another client", {}, [OTHER], "deals", "deal_other_client"),
    ("a deal id that is no number", {}, ["x1"], "deals", "deal_invalid"),
    ("a negative deal id", {}, ["-5"], "deals", "deal_invalid"),
]


def message(app: Any, code: str, locale: str, **params: str) -> str:
    """The form's text for ``code`` as the app's catalogs give it in ``locale``."""
    with app.test_request_context(), force_locale(locale):
        text = str(_TEXTS[code])
        return text % params if params else text


def plan_count(hook, inst) -> int:
    return len(hook.call("crm.item.list", {"entityTypeId": inst.entity_type_id, "select": ["id"]})["items"])


@pytest.fixture
def form(installed):
    """A new-plan form for the first company, filled with good values; a deal of another company."""
    hook = webhook(installed)
    companies = hook.call("crm.item.list", {"entityTypeId": 4, "select": ["id"], "order": {"id": "ASC"}})["items"]
    other = int(hook.call("crm.item.add", {"entityTypeId": 2, "fields": {
        "title": "De otra empresa", "companyId": companies[1]["id"], "opportunity": 10, "currencyId": "USD",
        "stageId": "NEW", "categoryId": 0}})["item"]["id"])
    store = installed.live.sandbox.portal.store
    with installed.live.sandbox.portal.lock:
        fired = store.doc("users", FIRED)
        store.put("users", {"id": FIRED}, {**fired, "ACTIVE": False})
    good = {"client": f"CO_{companies[0]['id']}", "period": "custom", "begindate": "2026-01-01",
            "closedate": "2026-12-31", "amount": "15000", "currency": "USD", "probability": "60",
            "assigned_by_id": "3", "title": "Plan"}
    return hook, good, other


@pytest.mark.parametrize("lang, locale", [("la", "es"), ("en", "en"), ("ru", "ru")])
def test_every_bad_value_of_the_form_gets_a_clear_message_in_the_users_language_and_nothing_is_written(
        installed, form, lang, locale):
    assert len(BAD_FORM) >= 40
    hook, good, other = form
    inst = installed.installation
    frame = Frame(installed, lang=lang)
    page = frame.get("/plans/new").text
    base = {**hidden_and_checked(page, "plan-form"), **{k: [v] for k, v in good.items()}}
    before = plan_count(hook, inst)
    problems = []
    for what, changes, deals, field, code in BAD_FORM:
        fields = {**base, **{k: [v] for k, v in changes.items()}, "deals": [str(other) if d == OTHER else d
                                                                          for d in deals]}
        response = frame.http.post(installed.live.url + "/plans/save", data=fields, allow_redirects=False,
                                   timeout=60)
        params = {"deal_not_found": {"deal": "".join(deals[:1])}, "deal_other_client": {"deal": str(other)},
                  "amount_too_precise": {"decimals": "2"}}.get(code, {})  # USD has 2 decimals in the portal
        expected = html.escape(message(installed.live.app, code, locale, **params), quote=False)
        text = html.unescape(response.text).replace("\xa0", " ")
        shown = response.text.replace("&#39;", "'").replace("&#34;", '"').replace("&quot;", '"')
        if response.status_code != 400 or 'id="plan-form"' not in response.text:  # the form again, with errors
            problems.append((what, f"HTTP {response.status_code}"))
        elif f'<li data-field="{field}">{html.unescape(expected)}</li>' not in text:
            problems.append((what, f"no message {expected!r} for {field}"))
        elif locale != "en" and html.unescape(expected) == message(installed.live.app, code, "en", **params):
            problems.append((what, "message not translated"))
        elif any(v and "<" in v and v in shown for v in changes.values()):
            problems.append((what, "value reflected unescaped"))
    assert problems == []
    assert plan_count(hook, inst) == before  # nothing was written
    saved = frame.http.post(installed.live.url + "/plans/save", data=base, allow_redirects=False, timeout=60)
    assert saved.status_code == 303 and plan_count(hook, inst) == before + 1  # the good values do save


# --- through the plan card's own fields -------------------------------------------------------------------------

# (A 1e30 amount never reaches the app: the portal refuses it, CRM_FIELD_ERROR_VALUE_NOT_VALID.)
# (what is wrong, the card's fields, the flags the deal tab must show (CSS class), figures that must hold)
BAD_CARD: list[tuple[str, dict[str, Any], set[str], dict[str, Decimal]]] = [
    ("probability 101", {"PROBABILITY": 101}, {"flag-probability"}, {"PROBABLE": Decimal(10000)}),
    ("probability -1", {"PROBABILITY": -1}, {"flag-probability"}, {"PROBABLE": Decimal(0)}),
    ("probability 1e6", {"PROBABILITY": 1000000}, {"flag-probability"}, {"PROBABLE": Decimal(10000)}),
    ("no currency", {"currencyId": ""}, {"flag-currency"}, {}),
    ("negative amount", {"opportunity": -500}, {"flag-amount"}, {"REMAINDER": Decimal(0)}),
    ("zero amount", {"opportunity": 0}, {"flag-amount"}, {"REMAINDER": Decimal(0), "EXECUTION": Decimal(0)}),
    ("reversed period", {"begindate": "2026-12-31", "closedate": "2026-01-01"}, {"flag-dates"}, {}),
    ("12 decimals of amount", {"opportunity": 10000.123456789012}, set(), {"EXECUTED": Decimal(2500)}),
    ("12 decimals of probability", {"PROBABILITY": 33.123456789012}, set(), {}),
]


@pytest.mark.parametrize("what, fields, flags, holds", BAD_CARD, ids=[c[0] for c in BAD_CARD])
def test_bad_values_typed_in_the_plan_card_are_flagged_and_crash_nothing(user, installed, sandbox, what, fields,
                                                                          flags, holds):
    from test_reconcile import quiet
    from test_worker import money

    plan = user.add_plan(10000, begindate="2026-01-01", closedate="2099-12-31")
    deal = user.add_deal(plan, 2500, stage="WON")
    quiet(sandbox, installed)
    card = {user.fields.get(k, k): v for k, v in fields.items()}
    user.update(user.eti, plan, **card)
    quiet(sandbox, installed)
    failed = installed.live.rows("SELECT event, error FROM inbox WHERE status = 'failed'")
    assert failed == []  # the worker computed the plan, it did not give up on it
    got = user.figures(plan)
    for name, value in holds.items():
        assert got[name] == money(value), (name, got)
    tab = Frame(installed, "/placements/deal", placement="CRM_DEAL_DETAIL_TAB", options={"ID": str(deal)})
    page = tab.page.text
    assert tab.page.status_code == 200 and f"/plans/{plan}/edit" in page  # the deal tab shows its plan
    for flag in ("flag-probability", "flag-currency", "flag-amount", "flag-dates"):
        assert (flag in page) == (flag in flags), flag
