"""Every page the app serves (frames, their refusals, the install page) names who may frame it and which
scripts may run: the app's own static files, the BX24 library, an inline script only with the response's nonce."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import responses
from test_install_page import OAUTH, form, install

from b24app.rest.clients import ClientsFrom
from tests.unit.placements.conftest import fake, frame_form, inst  # noqa: F401 - the frame fixtures

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [p for folder in ("placements/templates", "handlers/templates") for p in (ROOT / folder).rglob("*.html")]


def directives(header: str) -> dict[str, list[str]]:
    parts = (d.split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def assert_locked_down(header: str, ancestors: list[str], script_hosts: list[str]) -> dict[str, list[str]]:
    policy = directives(header)
    assert policy["frame-ancestors"] == ancestors
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    scripts = policy["script-src"]
    assert scripts[0] == "'self'" and scripts[1:1 + len(script_hosts)] == script_hosts
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:"} & set(scripts)
    return policy


def inline_scripts(page: str) -> list[str]:
    """The opening tags of <script> elements that have no ``src``."""
    return [tag for tag in re.findall(r"<script\b[^>]*>", page, re.I) if " src=" not in tag]


def test_the_install_get_page_may_be_framed_by_nobody_and_runs_no_script(client):
    response = client.get("/install?LANG=en")
    assert_locked_down(response.headers["Content-Security-Policy"], ["'none'"], ["api.bitrix24.com"])
    assert inline_scripts(response.get_data(as_text=True)) == []


def test_a_refused_install_gets_the_safe_default(client, app):
    app.config.update(OAUTH_URL=OAUTH, BX24_JS_URL="//api.bitrix24.com/api/v1/")
    with responses.RequestsMock() as mock:
        mock.get(OAUTH, status=400, json={"error": "invalid_grant", "error_description": "Invalid grant"})
        response = client.post("/install?DOMAIN=evil.example&PROTOCOL=1&LANG=la", data=form())
    assert response.status_code == 403
    header = response.headers["Content-Security-Policy"]
    assert_locked_down(header, ["'none'"], ["api.bitrix24.com"])
    assert "evil.example" not in header  # the posted DOMAIN is not vouched for


def test_a_verified_install_lets_its_portal_frame_it_and_runs_only_its_nonced_script(app, client):
    from test_install_page import ANSWER
    from test_provision import FakePortal

    app.config.update(OAUTH_URL=OAUTH, BX24_JS_URL="//api.bitrix24.com/api/v1/", PUBLIC_URL="https://plans.example")
    portal = FakePortal()
    app.config["CLIENTS"] = ClientsFrom(lambda _inst: portal)
    with responses.RequestsMock() as mock:
        mock.get(OAUTH, json=ANSWER)
        response = install(client)
        again = install(client)
    assert response.status_code == 200
    policy = assert_locked_down(response.headers["Content-Security-Policy"],
                                ["'self'", "https://portal.bitrix24.es"], ["api.bitrix24.com"])
    nonces = [s for s in policy["script-src"] if s.startswith("'nonce-")]
    assert len(nonces) == 1
    page = response.get_data(as_text=True)
    assert inline_scripts(page) == [f'<script nonce="{nonces[0][7:-1]}">']
    assert "BX24.installFinish()" in page
    assert nonces[0] not in again.headers["Content-Security-Policy"]  # a nonce per response


@pytest.mark.usefixtures("inst", "fake")
def test_frames_and_their_refusals_allow_only_the_apps_scripts_and_the_bx24_library(app):
    app.config["BX24_JS_URL"] = "http://127.0.0.1:5050/bx24.js"
    client = app.test_client()
    entered = client.post("/?LANG=la", data=frame_form())
    page = client.get(entered.headers["Location"])
    for response in (entered, page):
        assert_locked_down(response.headers["Content-Security-Policy"],
                           ["'self'", "https://portal.example"], ["http://127.0.0.1:5050"])
    assert inline_scripts(page.get_data(as_text=True)) == []
    forged = client.post("/", data=frame_form(APPLICATION_TOKEN="forged"))
    assert_locked_down(forged.headers["Content-Security-Policy"], ["'none'"], ["http://127.0.0.1:5050"])
    expired = app.test_client().get("/?_s=forged.token.value")
    assert_locked_down(expired.headers["Content-Security-Policy"], ["*"], ["http://127.0.0.1:5050"])


def test_no_template_has_an_inline_event_handler_or_an_unnonced_inline_script():
    assert len(TEMPLATES) >= 8
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", text, re.I), path
        assert "javascript:" not in text.lower(), path
        for tag in inline_scripts(text):
            assert "nonce=" in tag, (path, tag)
