"""Frame security over real HTTP against the sandbox portal: forged calls get nothing, headers, CSRF."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.integration.test_ui_support import Frame, open_frame, seed_plans, webhook

pytestmark = pytest.mark.integration


@pytest.fixture
def one_plan(installed):
    client = webhook(installed)
    inst = installed.installation
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id", "title"]})["items"][0]
    seed_plans(client, inst, [{"title": "Plan secreto de prueba", "companyId": company["id"], "opportunity": 1000,
                               "currencyId": "USD", "assignedById": 1, "begindate": "2026-11-01",
                               "closedate": "2026-11-30"}])
    return SimpleNamespace(inst=inst, secret_client=company["title"])  # what the plans page shows


@pytest.mark.parametrize("forged, status", [
    ({"APPLICATION_TOKEN": "0123456789abcdef0123456789abcdef"}, 403),
    ({"member_id": "ffffffffffffffffffffffffffffffff"}, 403),
    ({"AUTH_ID": "made-up-access-token-000000000000"}, 401),
])
def test_forged_frame_calls_get_nothing(installed, one_plan, forged, status):
    for path in ("/", "/placements/deal", "/placements/client"):
        _, response = open_frame(installed, path, **forged)
        assert response.status_code == status, path
        assert "Plan secreto" not in response.text and one_plan.secret_client not in response.text
        assert "Location" not in response.headers
        assert response.headers["Content-Security-Policy"].split("; ")[0] == "frame-ancestors 'none'"


def test_posted_domain_is_never_trusted(installed, one_plan):
    # DOMAIN in the query names another host; verification still happens at the stored endpoint and works.
    live = installed.live
    data = live.sandbox.portal.frame_fields(live.client_id, user_id=1, lang="la", handler=live.url + "/")
    import requests

    response = requests.post(live.url + "/?DOMAIN=attacker.invalid&PROTOCOL=1&LANG=la", data=data.form,
                             allow_redirects=False, timeout=30)
    assert response.status_code == 303


def test_framed_pages_allow_only_the_portal_and_send_no_x_frame_options(installed, one_plan):
    frame = Frame(installed)
    origin = installed.live.sandbox.url
    assert frame.page.status_code == 200
    assert frame.page.headers["Content-Security-Policy"].split("; ")[0] == f"frame-ancestors 'self' {origin}"
    assert "X-Frame-Options" not in frame.page.headers
    assert one_plan.secret_client in frame.page.text
    assert 'name="AUTH_ID"' not in frame.page.text and "access_token" not in frame.page.text


def test_forms_without_csrf_are_refused_and_write_nothing(installed, one_plan):
    frame = Frame(installed)
    client = webhook(installed)
    company = client.call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    before = client.call_raw("crm.item.list", {"entityTypeId": one_plan.inst.entity_type_id}).total
    form = {"client": f"CO_{company['id']}", "period": "month", "begindate": "2026-11-01", "amount": "500",
            "currency": "USD", "probability": "50", "assigned_by_id": "1", "back": "plans", "confirm_overlap": "1"}
    assert frame.post("/plans/save", form, csrf=False).status_code == 403
    assert frame.post("/plans/save", {**form, "csrf_token": "x" * 40}, csrf=False).status_code == 403
    assert client.call_raw("crm.item.list", {"entityTypeId": one_plan.inst.entity_type_id}).total == before
    assert frame.post("/plans/save", form).status_code == 303  # the same form with its token works
    assert client.call_raw("crm.item.list", {"entityTypeId": one_plan.inst.entity_type_id}).total == before + 1


def test_a_session_from_one_frame_cannot_be_forged(installed, one_plan):
    frame = Frame(installed)
    tampered = frame.s[:-3] + ("AAA" if not frame.s.endswith("AAA") else "BBB")
    import requests

    response = requests.get(installed.live.url + "/", params={"_s": tampered}, timeout=30)
    assert response.status_code == 401 and one_plan.secret_client not in response.text


def test_the_rendered_forms_carry_their_own_csrf_token_and_session(installed, one_plan):
    import re

    import requests

    frame = Frame(installed)
    page = frame.get("/plans/new").text
    form = page[page.find('id="plan-form"'):page.find("</form>", page.find('id="plan-form"'))]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    assert hidden["csrf_token"]
    assert hidden["_s"].split(".")[0] == frame.s.split(".")[0]  # same session; the signature carries a time
    company = webhook(installed).call("crm.item.list", {"entityTypeId": 4, "select": ["id"]})["items"][0]
    values = {**hidden, "client": f"CO_{company['id']}", "period": "month", "begindate": "2026-11-01",
              "amount": "700", "currency": "USD", "probability": "10", "assigned_by_id": "1", "confirm_overlap": "1"}
    # a cookieless browser (third-party cookies blocked) posts exactly what the page holds
    response = requests.post(installed.live.url + "/plans/save", data=values, allow_redirects=False, timeout=30)
    assert response.status_code == 303 and "_s=" in response.headers["Location"]


def test_a_frame_post_naming_another_host_sends_nothing_there(installed):
    """DOMAIN and SERVER_ENDPOINT come from the browser: the user is proven at the STORED endpoint only."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    hits: list[str] = []

    class Trap(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"result": {"ID": "1", "ADMIN": true}}')

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    trap = HTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    evil = f"127.0.0.1:{trap.server_address[1]}"
    try:
        for forged in ({"DOMAIN": evil}, {"SERVER_ENDPOINT": f"http://{evil}/rest/"},
                       {"DOMAIN": evil, "SERVER_ENDPOINT": f"http://{evil}/rest/", "AUTH_ID": "made-up-token-1"}):
            _, answer = open_frame(installed, **forged)
            assert answer.status_code in (303, 401), answer.status_code  # genuine AUTH_ID: in; made-up: refused
    finally:
        trap.shutdown()
    assert hits == []  # no request ever left for the host the POST named
