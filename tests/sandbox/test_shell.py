"""The sandbox portal's shell over real HTTP: pages, app tabs, frame forms, install gating, events, installer."""

from __future__ import annotations

import json
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from test_shell_support import ThrowawayApp, register

from b24sandbox.installer import InstallError, install_app
from b24sandbox.server import SandboxServer

pytestmark = pytest.mark.integration

FRAME_FIELDS = {"AUTH_ID", "AUTH_EXPIRES", "REFRESH_ID", "SERVER_ENDPOINT", "APPLICATION_TOKEN",
                "APPLICATION_SCOPE", "member_id", "status", "PLACEMENT", "PLACEMENT_OPTIONS"}


class Page(HTMLParser):
    """The parts of a shell page the tests look at: frame forms, iframes, app tabs, select options."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[dict] = []
        self.iframes: list[dict] = []
        self.tabs: list[dict] = []
        self.options: list[dict] = []
        self._in_frame_form = False
        self._in_tab: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._in_frame_form = "frame-form" in (a.get("class") or "")
            if self._in_frame_form:
                self.forms.append({"action": a["action"], "target": a["target"], "method": a.get("method"),
                                   "fields": {}})
        elif tag == "input" and self._in_frame_form and a.get("type") == "hidden":
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "iframe":
            self.iframes.append(a)
        elif tag == "a" and "app-tab" in (a.get("class") or ""):
            self._in_tab = {**a, "text": ""}
            self.tabs.append(self._in_tab)
        elif tag == "option":
            self.options.append(a)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "a":
            self._in_tab = None
        elif tag == "form":
            self._in_frame_form = False

    def handle_data(self, data):
        if self._in_tab is not None:
            self._in_tab["text"] += data


def parse(html: str) -> Page:
    return Page(html)


@pytest.fixture
def sandbox(tmp_path):
    with SandboxServer(tmp_path / "portal.db", seed="demo", rate_limit=False) as sb:
        yield sb


@pytest.fixture
def test_app(sandbox):
    with ThrowawayApp(f"{sandbox.url}/api/v1/") as app:
        yield app


def webhook(sandbox, method: str, params: dict | None = None) -> dict:
    response = requests.post(f"{sandbox.webhook_url}{method}.json", json=params or {}, timeout=30)
    body = response.json()
    assert "error" not in body, body
    return body


def first_deal(sandbox) -> dict:
    deals = webhook(sandbox, "crm.deal.list", {"order": {"ID": "ASC"}, "filter": {">COMPANY_ID": 0},
                                               "select": ["ID", "TITLE", "STAGE_ID", "CATEGORY_ID", "COMPANY_ID"]})
    return deals["result"][0]


def browser(sandbox, user_id: int = 1, lang: str | None = None) -> requests.Session:
    session = requests.Session()
    session.cookies.set("b24sb_user", str(user_id))
    if lang:
        session.cookies.set("b24sb_lang", lang)
    return session


def installed_app(sandbox, test_app) -> str:
    client_id = register(sandbox.portal, test_app)
    result = install_app(sandbox.url, client_id)
    assert result.installed
    return client_id


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


# --------------------------------------------------------------------------- pages

def test_deal_list_shows_deals_with_stage_selects(sandbox):
    deal = first_deal(sandbox)
    page = browser(sandbox).get(f"{sandbox.url}/crm/deal/list/")
    assert page.status_code == 200
    assert deal["TITLE"] in page.text
    assert "Negociaciones" in page.text                          # Spanish by default
    selected = [o for o in parse(page.text).options if "selected" in o and o.get("value") == deal["STAGE_ID"]]
    assert selected, "the deal's stage is the selected option of its row"


def test_deal_list_per_pipeline(sandbox):
    categories = webhook(sandbox, "crm.category.list", {"entityTypeId": 2})["result"]["categories"]
    other = next(c for c in categories if int(c["id"]) != 0)
    deals = webhook(sandbox, "crm.deal.list", {"select": ["ID", "TITLE", "CATEGORY_ID"]})["result"]
    inside = [d for d in deals if str(d["CATEGORY_ID"]) == str(other["id"])]
    outside = [d for d in deals if str(d["CATEGORY_ID"]) != str(other["id"])]
    assert inside and outside, "the demo seed has deals in several pipelines"
    page = browser(sandbox).get(f"{sandbox.url}/crm/deal/category/{other['id']}/")
    rows = {d["ID"] for d in deals if f'<tr data-id="{d["ID"]}">' in page.text}
    assert rows == {d["ID"] for d in inside}


def test_cards_render_main_fields(sandbox):
    s = browser(sandbox)
    deal = first_deal(sandbox)
    company = webhook(sandbox, "crm.company.get", {"id": deal["COMPANY_ID"]})["result"]
    contacts = webhook(sandbox, "crm.contact.list", {"filter": {">ID": 0}, "select": ["ID", "NAME", "PHONE",
                                                                                        "EMAIL"]})["result"]
    contact = next(c for c in contacts if c.get("PHONE") and c.get("EMAIL"))

    deal_page = s.get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/")
    assert deal_page.status_code == 200
    assert deal["TITLE"] in deal_page.text and company["TITLE"] in deal_page.text

    company_page = s.get(f"{sandbox.url}/crm/company/details/{company['ID']}/")
    assert company_page.status_code == 200 and company["TITLE"] in company_page.text
    assert f'href="/crm/deal/details/{deal["ID"]}/"' in company_page.text      # the client's deals

    contact_page = s.get(f"{sandbox.url}/crm/contact/details/{contact['ID']}/")
    assert contact_page.status_code == 200
    assert contact["PHONE"][0]["VALUE"] in contact_page.text
    assert contact["EMAIL"][0]["VALUE"] in contact_page.text

    missing = s.get(f"{sandbox.url}/crm/deal/details/999999/")
    assert missing.status_code == 404


def test_stage_bar_on_the_deal_card_moves_only_the_stage(sandbox):
    deal = first_deal(sandbox)
    before = webhook(sandbox, "crm.deal.get", {"id": deal["ID"]})["result"]
    stages = webhook(sandbox, "crm.status.list", {"filter": {
        "ENTITY_ID": "DEAL_STAGE" if str(deal["CATEGORY_ID"]) == "0" else f"DEAL_STAGE_{deal['CATEGORY_ID']}"}})
    won = next(st["STATUS_ID"] for st in stages["result"] if st["STATUS_ID"].endswith("WON"))
    card = browser(sandbox).get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/")
    assert f'name="STAGE_ID" value="{won}"' in card.text                      # a stage-bar button
    saved = browser(sandbox).post(f"{sandbox.url}/crm/deal/details/{deal['ID']}/", data={"STAGE_ID": won})
    assert saved.status_code == 200 and "Guardado" in saved.text
    after = webhook(sandbox, "crm.deal.get", {"id": deal["ID"]})["result"]
    assert after["STAGE_ID"] == won and after["STAGE_SEMANTIC_ID"] == "S"
    assert (after["TITLE"], after["OPPORTUNITY"], after["CURRENCY_ID"]) == (
        before["TITLE"], before["OPPORTUNITY"], before["CURRENCY_ID"])


def test_language_switcher_keeps_the_choice_in_a_cookie(sandbox):
    s = browser(sandbox)
    answer = s.post(f"{sandbox.url}/sandbox/shell/prefs", data={"lang": "en", "back": "/crm/company/list/"},
                    allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/crm/company/list/")
    page = s.get(f"{sandbox.url}/crm/company/list/")
    assert "Companies" in page.text and "Compañías" not in page.text


def test_shell_clicks_do_not_spend_the_rest_rate_limit(tmp_path):
    with SandboxServer(tmp_path / "limited.db", seed="demo", rate_limit=True) as sb:
        bucket = sb.portal.bucket
        bucket.per_second = 0                      # no draining: the level only moves when REST is called
        bucket.level = bucket.burst                # full: the next REST request is refused
        s = browser(sb)
        for path in ("/crm/deal/list/", "/crm/company/list/", "/crm/deal/details/1/"):
            assert s.get(f"{sb.url}{path}").status_code == 200
        refused = requests.post(f"{sb.webhook_url}profile.json", timeout=30)
        assert refused.status_code == 503 and refused.json()["error"] == "QUERY_LIMIT_EXCEEDED"
        assert bucket.level == bucket.burst


# --------------------------------------------------------------------------- app frames

def test_deal_tab_frame_form_is_complete(sandbox, test_app):
    client_id = installed_app(sandbox, test_app)
    deal = first_deal(sandbox)
    page = parse(browser(sandbox).get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/").text)

    assert [t["text"].strip() for t in page.tabs] == ["Plan de ventas"]
    assert page.tabs[0]["data-client-id"] == client_id
    form = page.forms[0]
    assert form["method"] == "post"
    assert set(form["fields"]) == FRAME_FIELDS
    action = urlsplit(form["action"])
    assert f"{action.scheme}://{action.netloc}{action.path}" == f"{test_app.url}/tab"
    query = {k: v[0] for k, v in parse_qs(action.query).items()}
    assert query["DOMAIN"] == sandbox.portal.domain and query["PROTOCOL"] == "0" and query["LANG"] == "la"
    assert query["APP_SID"]
    # the form is POSTed into the named iframe, named DOMAIN|PROTOCOL|APP_SID for bx24.js
    assert form["target"] == f"{query['DOMAIN']}|0|{query['APP_SID']}"
    assert any(i.get("name") == form["target"] for i in page.iframes)

    fields = form["fields"]
    assert fields["PLACEMENT"] == "CRM_DEAL_DETAIL_TAB"
    assert json.loads(fields["PLACEMENT_OPTIONS"]) == {"ID": str(deal["ID"]), "URI": f"/crm/deal/details/{deal['ID']}/"}
    assert fields["member_id"] == sandbox.portal.member_id and fields["status"] == "L"
    assert set(fields["APPLICATION_SCOPE"].split(",")) == {"crm", "placement", "user_brief"}
    # the frame's AUTH_ID is a working token of the person looking at the card
    profile = requests.post(f"{sandbox.url}/rest/profile.json", data={"auth": fields["AUTH_ID"]}, timeout=30).json()
    assert str(profile["result"]["ID"]) == "1"


def test_tab_title_follows_the_person_language_and_user(sandbox, test_app):
    installed_app(sandbox, test_app)
    deal = first_deal(sandbox)
    page = parse(browser(sandbox, user_id=1, lang="en").get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/").text)
    assert [t["text"].strip() for t in page.tabs] == ["Sales plan"]
    assert parse_qs(urlsplit(page.forms[0]["action"]).query)["LANG"] == ["en"]


def test_tabs_are_hidden_until_install_finish(sandbox, test_app):
    client_id = register(sandbox.portal, test_app)
    deal = first_deal(sandbox)
    s = browser(sandbox)

    # the admin opens the app: the page POSTs the install URL with PLACEMENT=DEFAULT
    app_page = parse(s.get(f"{sandbox.url}/marketplace/app/{client_id}/").text)
    form = app_page.forms[0]
    assert urlsplit(form["action"]).path == "/install" and form["fields"]["PLACEMENT"] == "DEFAULT"
    # the install page binds the tabs (done here by posting the form the browser would post)...
    answer = requests.post(form["action"], data=form["fields"], timeout=30)
    assert answer.status_code == 200 and "BX24.installFinish()" in answer.text
    info = requests.post(f"{sandbox.url}/rest/app.info.json", data={"auth": form["fields"]["AUTH_ID"]},
                         timeout=30).json()
    assert info["result"]["INSTALLED"] is False
    assert webhook(sandbox, "crm.deal.get", {"id": deal["ID"]})  # the card exists
    # ...but until installFinish runs, no tab
    card = parse(s.get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/").text)
    assert card.tabs == [] and card.forms == []
    # a sales user sees the "not installed" text instead of a frame
    sales = browser(sandbox, user_id=2).get(f"{sandbox.url}/marketplace/app/{client_id}/")
    assert "La aplicación aún no está completamente instalada" in sales.text
    assert parse(sales.text).forms == []

    finish = s.post(f"{sandbox.url}/sandbox/apps/{client_id}/install-finish",
                    data={"APP_SID": parse_qs(urlsplit(form["action"]).query)["APP_SID"][0]})
    assert finish.status_code == 200
    card = parse(s.get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/").text)
    assert [t["data-client-id"] for t in card.tabs] == [client_id]
    # the app page now opens the handler, not the installer
    app_page = parse(s.get(f"{sandbox.url}/marketplace/app/{client_id}/").text)
    assert urlsplit(app_page.forms[0]["action"]).path == "/"


def test_company_and_contact_cards_show_the_app_tabs(sandbox, test_app):
    client_id = installed_app(sandbox, test_app)
    deal = first_deal(sandbox)
    contact_id = webhook(sandbox, "crm.contact.list", {"select": ["ID"]})["result"][0]["ID"]
    for kind, entity_id, code in (("company", deal["COMPANY_ID"], "CRM_COMPANY_DETAIL_TAB"),
                                  ("contact", contact_id, "CRM_CONTACT_DETAIL_TAB")):
        page = parse(browser(sandbox).get(f"{sandbox.url}/crm/{kind}/details/{entity_id}/").text)
        assert [t["data-placement"] for t in page.tabs] == [code]
        assert page.forms[0]["fields"]["PLACEMENT"] == code
        options = json.loads(page.forms[0]["fields"]["PLACEMENT_OPTIONS"])
        assert options == {"ID": str(entity_id), "URI": f"/crm/{kind}/details/{entity_id}/"}
        assert page.tabs[0]["data-client-id"] == client_id


# --------------------------------------------------------------------------- edits fire events

def test_stage_change_in_the_deal_list_fires_oncrmdealupdate(sandbox, test_app):
    client_id = installed_app(sandbox, test_app)
    deal = first_deal(sandbox)
    stages = webhook(sandbox, "crm.status.list", {"filter": {"ENTITY_ID": "DEAL_STAGE"}})["result"]
    new_stage = next(s["STATUS_ID"] for s in stages if s["STATUS_ID"] != deal["STAGE_ID"])

    answer = browser(sandbox, user_id=1).post(f"{sandbox.url}/crm/deal/list/",
                                              data={"id": deal["ID"], "STAGE_ID": new_stage})
    assert answer.status_code == 200
    assert webhook(sandbox, "crm.deal.get", {"id": deal["ID"]})["result"]["STAGE_ID"] == new_stage

    events = wait_for(lambda: [e for e in test_app.events if e.get("event") == "ONCRMDEALUPDATE"])
    assert events, "the app's handler received ONCRMDEALUPDATE"
    assert events[0]["data[FIELDS][ID]"] == str(deal["ID"])
    assert events[0]["auth[application_token]"] == sandbox.portal.app(client_id)["application_token"]


# --------------------------------------------------------------------------- installer

def test_installer_refuses_a_page_that_never_calls_install_finish(sandbox):
    with ThrowawayApp(f"{sandbox.url}/api/v1/", call_install_finish=False) as app:
        client_id = register(sandbox.portal, app)
        with pytest.raises(InstallError):
            install_app(sandbox.url, client_id)
        assert sandbox.portal.app(client_id)["installed"] is False
        assert app.install_posts, "the install page was POSTed"
        posted = app.install_posts[0]
        assert set(posted["form"]) == FRAME_FIELDS and posted["form"]["PLACEMENT"] == "DEFAULT"
        assert posted["args"]["PROTOCOL"] == "0" and posted["args"]["LANG"] == "la"


def test_bx24_js_is_served_where_apps_load_it(sandbox):
    for path in ("/api/v1/", "/bitrix/js/rest/bx24.js", "/bx24.js"):
        answer = requests.get(f"{sandbox.url}{path}", timeout=30)
        assert answer.status_code == 200 and "javascript" in answer.headers["Content-Type"]
        assert "installFinish" in answer.text


def test_rest_answers_carry_cors_headers_for_frames(sandbox):
    answer = requests.post(f"{sandbox.webhook_url}profile.json", headers={"Origin": "http://127.0.0.1:5000"},
                           timeout=30)
    assert answer.headers.get("Access-Control-Allow-Origin") in ("*", "http://127.0.0.1:5000")
    preflight = requests.options(f"{sandbox.url}/rest/crm.item.get.json", timeout=30,
                                 headers={"Origin": "http://127.0.0.1:5000",
                                          "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code in (200, 204)
    assert "content-type" in preflight.headers.get("Access-Control-Allow-Headers", "").lower()


# --------------------------------------------------------------------------- smart processes

def a_smart_process(sandbox) -> tuple[int, str, int]:
    """A smart process with a PROBABILITY user field and one item: (entityTypeId, field camelName, item id)."""
    flags = {"isStagesEnabled": "Y", "isClientEnabled": "Y", "isLinkWithProductsEnabled": "Y"}
    spa = webhook(sandbox, "crm.type.add", {"fields": {"title": "Planes de ventas", **flags}})["result"]["type"]
    type_id, entity_type_id = spa["id"], spa["entityTypeId"]
    webhook(sandbox, "userfieldconfig.add", {"moduleId": "crm", "field": {
        "entityId": f"CRM_{type_id}", "fieldName": f"UF_CRM_{type_id}_PROBABILITY", "userTypeId": "double",
        "editFormLabel": {"la": "Probabilidad (%)", "en": "Probability (%)"}}})
    company_id = first_deal(sandbox)["COMPANY_ID"]
    item = webhook(sandbox, "crm.item.add", {"entityTypeId": entity_type_id, "fields": {
        "title": "Plan T4", "opportunity": 1000, "currencyId": "USD", "companyId": company_id}})["result"]["item"]
    return entity_type_id, f"ufCrm{type_id}Probability", item["id"]


def test_smart_process_card_edits_amount_probability_and_stage(sandbox, test_app):
    client_id = installed_app(sandbox, test_app)
    entity_type_id, probability, item_id = a_smart_process(sandbox)
    token = sandbox.portal.frame_fields(client_id).form["AUTH_ID"]
    bound = requests.post(f"{sandbox.url}/rest/event.bind.json", timeout=30, data={
        "auth": token, "event": "ONCRMDYNAMICITEMUPDATE", "handler": f"{test_app.url}/events"}).json()
    assert bound.get("result") is True, bound
    s = browser(sandbox)

    listing = s.get(f"{sandbox.url}/crm/type/{entity_type_id}/list/")
    assert listing.status_code == 200 and "Plan T4" in listing.text and "Planes de ventas" in listing.text
    card = s.get(f"{sandbox.url}/crm/type/{entity_type_id}/details/{item_id}/")
    assert card.status_code == 200 and "Probabilidad (%)" in card.text
    stages = webhook(sandbox, "crm.item.get", {"entityTypeId": entity_type_id, "id": item_id})["result"]["item"]
    category = stages["categoryId"]
    stage_ids = [st["STATUS_ID"] for st in webhook(sandbox, "crm.status.list", {
        "filter": {"ENTITY_ID": f"DYNAMIC_{entity_type_id}_STAGE_{category}"}})["result"]]
    new_stage = next(st for st in stage_ids if st != stages["stageId"])

    saved = s.post(f"{sandbox.url}/crm/type/{entity_type_id}/details/{item_id}/",
                   data={"title": "Plan T4", "opportunity": "2500,50", probability: "75", "stageId": new_stage})
    assert saved.status_code == 200 and "Guardado" in saved.text
    item = webhook(sandbox, "crm.item.get", {"entityTypeId": entity_type_id, "id": item_id})["result"]["item"]
    assert float(item["opportunity"]) == 2500.5 and float(item[probability]) == 75
    assert item["stageId"] == new_stage and item["title"] == "Plan T4"

    events = wait_for(lambda: [e for e in test_app.events if e.get("event") == "ONCRMDYNAMICITEMUPDATE"])
    assert events and events[0]["data[FIELDS][ID]"] == str(item_id)
    assert events[0]["data[FIELDS][ENTITY_TYPE_ID]"] == str(entity_type_id)


def test_installer_on_a_portal_object_reinstalls_like_bitrix24(sandbox, test_app):
    client_id = register(sandbox.portal, test_app)
    first = install_app(sandbox.portal, client_id)
    assert first.installed and first.calls_install_finish and first.status == 200
    again = install_app(sandbox.portal, client_id)                 # "Reinstall": the install page runs again
    assert again.installed and not again.already_installed
    assert len(test_app.install_posts) == 2
    over_http = install_app(sandbox.url, client_id)                # over HTTP an installed app is left alone
    assert over_http.already_installed and len(test_app.install_posts) == 2


def test_cli_registers_installs_and_uninstalls_an_app(sandbox, test_app, tmp_path):
    from click.testing import CliRunner

    from b24sandbox.cli import main as cli

    runner = CliRunner()
    env_file = tmp_path / "app.env"
    registered = runner.invoke(cli, ["app", "register", "--sandbox", sandbox.url, "--handler",
                                     f"{test_app.url}/", "--install", f"{test_app.url}/install",
                                     "--scopes", "crm,placement", "--env-file", str(env_file)])
    assert registered.exit_code == 0, registered.output
    client_id = registered.output.strip()
    secret = sandbox.portal.app(client_id)["client_secret"]
    assert secret not in registered.output
    written = env_file.read_text()
    assert f"B24_CLIENT_ID={client_id}" in written and f"B24_CLIENT_SECRET={secret}" in written

    assert f'/marketplace/app/{client_id}/' in browser(sandbox).get(f"{sandbox.url}/crm/deal/list/").text
    installed = runner.invoke(cli, ["app", "install", "--sandbox", sandbox.url, client_id])
    assert installed.exit_code == 0, installed.output
    assert sandbox.portal.app(client_id)["installed"] is True
    deal = first_deal(sandbox)
    assert parse(browser(sandbox).get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/").text).tabs

    removed = runner.invoke(cli, ["app", "uninstall", "--sandbox", sandbox.url, client_id])
    assert removed.exit_code == 0, removed.output
    card = browser(sandbox).get(f"{sandbox.url}/crm/deal/details/{deal['ID']}/").text
    assert parse(card).tabs == []
    assert f'/marketplace/app/{client_id}/' not in card                          # nor a menu item


def test_frames_carry_the_acting_users_tokens_and_refresh_them(sandbox, test_app):
    client_id = installed_app(sandbox, test_app)
    own = webhook(sandbox, "crm.deal.list", {"filter": {"ASSIGNED_BY_ID": 2}, "select": ["ID"]})["result"]
    assert own, "the demo seed gives user 2 deals"
    sales = browser(sandbox, user_id=2)
    switched = sales.post(f"{sandbox.url}/sandbox/shell/prefs", data={"user_id": "2", "back": "/crm/deal/list/"})
    assert switched.status_code == 200
    page = parse(sales.get(f"{sandbox.url}/crm/deal/details/{own[0]['ID']}/").text)
    token = page.forms[0]["fields"]["AUTH_ID"]
    me = requests.post(f"{sandbox.url}/rest/profile.json", data={"auth": token}, timeout=30).json()["result"]
    assert str(me["ID"]) == "2" and not me.get("ADMIN")

    # BX24.refreshAuth asks the portal page, which asks the portal for fresh tokens of the same person
    fresh = sales.post(f"{sandbox.url}/sandbox/shell/frame-auth", data={
        "client_id": client_id, "placement": "CRM_DEAL_DETAIL_TAB",
        "options": json.dumps({"ID": str(own[0]["ID"])})})
    assert fresh.status_code == 200 and fresh.headers["Cache-Control"] == "no-store"
    auth = fresh.json()
    assert auth["AUTH_ID"] != token and int(auth["AUTH_EXPIRES"]) > 0
    me = requests.post(f"{sandbox.url}/rest/profile.json", data={"auth": auth["AUTH_ID"]}, timeout=30).json()
    assert str(me["result"]["ID"]) == "2"


def test_left_menu_binding_opens_its_own_handler(sandbox, test_app):
    client_id = installed_app(sandbox, test_app)
    token = sandbox.portal.frame_fields(client_id).form["AUTH_ID"]
    bound = requests.post(f"{sandbox.url}/rest/placement.bind.json", timeout=30, json={
        "auth": token, "PLACEMENT": "LEFT_MENU", "HANDLER": f"{test_app.url}/tab", "TITLE": "Plans",
        "LANG_ALL": {"la": {"TITLE": "Mis planes"}}}).json()
    assert bound.get("result") is True, bound
    s = browser(sandbox)
    deal_list = s.get(f"{sandbox.url}/crm/deal/list/").text
    link = next(m for m in deal_list.split('href="')[1:] if "PLACEMENT=LEFT_MENU" in m.split('"')[0])
    href = link.split('"')[0].replace("&amp;", "&")
    assert "Mis planes" in link.split("</a>")[0]
    page = parse(s.get(f"{sandbox.url}{href}", headers={"Referer": f"{sandbox.url}/crm/deal/list/"}).text)
    form = page.forms[0]
    assert urlsplit(form["action"]).path == "/tab" and form["fields"]["PLACEMENT"] == "LEFT_MENU"
    assert json.loads(form["fields"]["PLACEMENT_OPTIONS"]) == {"URI": "/crm/deal/list/"}
